"""Physics: four-vectors, phase space, matrix elements, jets and jet images, the jet generator.

Pure numerical code (NumPy; Pythia 8 and FastJet for generation). Imports nothing else from
``course_utils``, so it can be read and tested on its own.
"""
