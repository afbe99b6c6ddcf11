"""brianlab.fileio: an exclusive lock, atomic replacement, and a rename that never replaces."""

import pytest

from brianlab import fileio


def test_a_lock_is_exclusive_until_closed(tmp_path):
    first = fileio.try_lock(tmp_path / "x.lock")
    assert first is not None
    assert fileio.try_lock(tmp_path / "x.lock") is None  # a second open file description is refused
    first.close()
    again = fileio.try_lock(tmp_path / "x.lock")
    assert again is not None
    again.close()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "table.csv"
    fileio.write_text_atomically(target, "old\n")

    def broken(path):
        path.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        fileio.write_atomically(target, broken)
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_rename_no_replace_refuses_even_an_empty_directory(tmp_path):
    # os.rename would silently replace an empty directory
    (tmp_path / "staged").mkdir()
    (tmp_path / "staged" / "data").write_text("new")
    (tmp_path / "final").mkdir()
    with pytest.raises(FileExistsError):
        fileio.rename_no_replace(tmp_path / "staged", tmp_path / "final")
    assert (tmp_path / "staged" / "data").is_file() and not any((tmp_path / "final").iterdir())
    (tmp_path / "final").rmdir()
    fileio.rename_no_replace(tmp_path / "staged", tmp_path / "final")
    assert (tmp_path / "final" / "data").read_text() == "new"
