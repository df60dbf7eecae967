from cagnotte.models import Wallet
from cagnotte.tasks import import_credit_file, import_dropped_credit_files

HEADER = "caisse_code,account_number,program_code,period,amount,reference\n"


def test_dropped_files_are_imported_moved_and_reported(member, program, tmp_path, settings):
    settings.CREDIT_DROP_DIR = tmp_path
    row = f"pyrenees-gascogne,{member.account_number},{program.code},2026-04,25,drop-1\n"
    (tmp_path / "avril.csv").write_text(HEADER + row + "pyrenees-gascogne,1,x,2026-04,1,z\n")
    (tmp_path / "refuse.csv").write_text("pas,un,fichier\n")
    (tmp_path / "notes.txt").write_text("ignored")

    done = import_dropped_credit_files()

    assert sorted(p.rsplit("/", 1)[-1] for p in done) == ["avril.csv", "refuse.csv"]
    assert Wallet.objects.get(member=member).balance == 25
    report = (tmp_path / "done" / "avril.csv.rapport.txt").read_text()
    assert "Crédits appliqués : 1 (25 K)" in report and "ligne 3 : " in report
    assert "en-tête invalide" in (tmp_path / "done" / "refuse.csv.rapport.txt").read_text()
    assert not (tmp_path / "avril.csv").exists() and (tmp_path / "notes.txt").exists()

    # The bank drops the same file again: moved aside under a new name, credited once.
    (tmp_path / "avril.csv").write_text(HEADER + row)
    import_dropped_credit_files()
    assert (tmp_path / "done" / "avril.1.csv").exists()
    assert (
        "Déjà appliqués (ignorés) : 1"
        in (tmp_path / "done" / "avril.1.csv.rapport.txt").read_text()
    )
    assert Wallet.objects.get(member=member).balance == 25


def test_import_credit_file_task_returns_its_counts(member, program, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        HEADER + f"pyrenees-gascogne,{member.account_number},{program.code},2026-04,7,t-1\n"
    )
    result = import_credit_file.apply(args=[str(path)]).get()
    assert result == {"rows": 1, "applied": 1, "already_applied": 0, "errors": 0}
