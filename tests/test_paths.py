"""Finding the course root and the data folder from wherever a notebook runs."""
from course_utils.notebook import paths


def test_course_root_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    assert paths.course_root() == tmp_path.resolve()


def test_course_root_found_above_the_working_folder(monkeypatch, root):
    monkeypatch.delenv("COURSE_ROOT", raising=False)
    assert paths.course_root(root / "notebooks" / "01_amplitude_regression") == root


def test_course_root_of_a_folder_outside_the_course_is_the_installed_course(monkeypatch, tmp_path, root):
    """nbgrader autograding in a course folder elsewhere (a demo course, a sandbox) finds the data of the
    course the package was installed from (pip install -e), as the notebooks expect."""
    monkeypatch.delenv("COURSE_ROOT", raising=False)
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    assert paths.course_root(tmp_path) == root
    assert paths.data_dir(tmp_path) == root / "data"
