from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from cagnotte.models import CreditImportBatch, Wallet
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


def test_the_drop_folder_command_does_what_the_task_does(member, program, tmp_path, settings):
    """manage.py import_drop_folder: the beat job's twin, recorded as a command run."""
    settings.CREDIT_DROP_DIR = tmp_path
    row = f"pyrenees-gascogne,{member.account_number},{program.code},2026-04,25,drop-1\n"
    (tmp_path / "avril.csv").write_text(HEADER + row)
    (tmp_path / "refuse.csv").write_text("pas,un,fichier\n")
    out = StringIO()

    call_command("import_drop_folder", stdout=out)

    text = out.getvalue()
    assert "Crédits appliqués : 1 (25 K)" in text and "Fichier refusé : en-tête invalide" in text
    assert "2 fichier(s) traité(s)." in text
    assert sorted(p.name for p in (tmp_path / "done").iterdir()) == [
        "avril.csv",
        "avril.csv.rapport.txt",
        "refuse.csv",
        "refuse.csv.rapport.txt",
    ]
    assert not list(tmp_path.glob("*.csv"))
    assert Wallet.objects.get(member=member).balance == 25
    batch = CreditImportBatch.objects.get(file_name="avril.csv")
    assert batch.source == "command" and batch.run_by.endswith("(import_drop_folder)")


def test_the_drop_folder_command_takes_another_folder_and_names_a_missing_one(
    member, program, tmp_path
):
    elsewhere = tmp_path / "ailleurs"
    elsewhere.mkdir()
    row = f"pyrenees-gascogne,{member.account_number},{program.code},2026-04,5,drop-2\n"
    (elsewhere / "mai.csv").write_text(HEADER + row)
    call_command("import_drop_folder", "--folder", str(elsewhere), stdout=StringIO())
    assert (elsewhere / "done" / "mai.csv").exists()
    assert Wallet.objects.get(member=member).balance == 5

    with pytest.raises(CommandError, match="dossier de dépôt introuvable"):
        call_command("import_drop_folder", "--folder", str(tmp_path / "absent"))


def test_the_task_does_nothing_without_a_drop_folder(tmp_path, settings, db):
    settings.CREDIT_DROP_DIR = tmp_path / "absent"
    assert import_dropped_credit_files() == []
    assert not (tmp_path / "absent").exists()
