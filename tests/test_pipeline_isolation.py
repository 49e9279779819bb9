"""A file that fails any step of the pipeline fails alone, with the step's reason (issue 11)."""
from __future__ import annotations

from tests.conftest import camera_like_jpeg
from tests.hostile import a1111_quadratic, stealth_bomb
from worker.errors import AnalysisError
from worker.pipeline import Outcome, analyze_files


def test_each_failing_file_fails_alone_with_its_step(res, tmp_path):
    paths = [camera_like_jpeg(tmp_path / f"photo{i}.jpg", size=(320 + 8 * i, 240)) for i in range(4)]
    (tmp_path / "a1111.png").write_bytes(a1111_quadratic(200_000))
    (tmp_path / "stealth.png").write_bytes(stealth_bomb(64, side=1024))
    paths += [tmp_path / "a1111.png", tmp_path / "stealth.png", tmp_path / "missing.jpg"]
    derived = [tmp_path / "derived" / str(i) for i in range(len(paths))]
    derived[1].parent.mkdir(parents=True)
    derived[1].write_text("a file where the folder of maps goes")  # a real OSError in one file's last step

    results = analyze_files(paths, res, derived)

    errors = {i: str(r) for i, r in enumerate(results) if isinstance(r, AnalysisError)}
    assert set(errors) == {1, 5, 6}, errors
    assert errors[1].startswith("the forensic maps failed on this file (FileExistsError")
    assert "decompression bomb" in errors[5]
    assert errors[6] == "the uploaded file is missing from storage"
    for i in (0, 2, 3, 4):
        assert isinstance(results[i], Outcome) and results[i].verdict in ("real", "uncertain", "fake")
        assert (derived[i] / "ela.png").is_file()
