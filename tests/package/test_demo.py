"""`medtrust demo --quick` runs every job's step end to end and writes its results."""

from medtrust.cli.main import main


def test_demo_quick(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quick", "--no-progress"]) == 0
    summary = (out / "summary.md").read_text()
    assert "## Selective classification" in summary
    assert (out / "selective" / "metrics.parquet").exists()
    assert (out / "selective" / "risk_coverage.png").stat().st_size > 10_000
