"""Every credit import is recorded as a batch; a file already imported says so at once."""

import hashlib

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.urls import reverse

from cagnotte.imports import ImportFileError, import_credits
from cagnotte.models import CreditImportBatch, LedgerEntry, Wallet
from cagnotte.tasks import import_dropped_credit_files
from tests import factories as f

HEADER = "caisse_code,account_number,program_code,period,amount,reference"


def write(tmp_path, lines, name="credits.csv"):
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def test_an_import_is_recorded_with_its_hash_counts_and_report(member, program, tmp_path):
    m = member.account_number
    path = write(
        tmp_path,
        [
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-01,30,b1",
            f"pyrenees-gascogne,{m},inconnu,2026-01,10,b2",
        ],
    )
    report = import_credits(path=path, run_by="someone")
    batch = CreditImportBatch.objects.get()
    assert batch.pk == report.batch_id
    assert batch.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (batch.file_name, batch.source, batch.run_by, batch.status) == (
        "credits.csv",
        "other",
        "someone",
        "done",
    )
    assert (batch.rows, batch.applied, batch.already_applied, batch.error_count) == (2, 1, 0, 1)
    assert (batch.tookets_applied, batch.wallets_created) == (30, 1)
    assert batch.caisse_regionale == member.caisse_regionale
    assert "ligne 3 : programme inconnu" in batch.report
    assert batch.finished_at >= batch.started_at


def test_the_same_file_again_is_not_read_and_says_so(member, program, tmp_path, capsys):
    m = member.account_number
    path = write(tmp_path, [f"pyrenees-gascogne,{m},carte-societaire-gers,2026-01,30,s1"])
    call_command("import_credits", str(path), "--no-progress")
    capsys.readouterr()
    report_path = tmp_path / "rapport.txt"
    call_command("import_credits", str(path), "--report", str(report_path))
    out = capsys.readouterr().out
    first, second = CreditImportBatch.objects.order_by("pk")
    assert "Fichier déjà importé (lot n° " + str(first.pk) in out
    assert "Fichier déjà importé" in report_path.read_text()
    assert (second.status, second.duplicate_of, second.rows, second.source) == (
        "duplicate",
        first,
        0,
        "command",
    )
    assert Wallet.objects.get(member=member).balance == 30
    # --force reads it again: its rows are already in the ledger, so nothing is credited.
    call_command("import_credits", str(path), "--force")
    out = capsys.readouterr().out
    assert "Déjà appliqués (ignorés) : 1" in out
    third = CreditImportBatch.objects.order_by("pk").last()
    assert (third.status, third.forced, third.already_applied) == ("done", True, 1)
    assert LedgerEntry.objects.count() == 1


def test_a_rejected_or_refused_file_can_be_imported_again(member, program, tmp_path):
    m = member.account_number
    path = write(
        tmp_path,
        [
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-01,30,r1",
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-01,x,r2",
        ],
    )
    with pytest.raises(CommandError):
        call_command("import_credits", str(path), "--all-or-nothing")
    assert CreditImportBatch.objects.get().status == "rejected"
    report = import_credits(path=path)
    assert report.duplicate_of is None and report.applied == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("pas,un,fichier\n")
    with pytest.raises(ImportFileError):
        import_credits(path=bad)
    refused = CreditImportBatch.objects.get(file_name="bad.csv")
    assert refused.status == "refused" and "en-tête invalide" in refused.report
    with pytest.raises(ImportFileError):
        import_credits(path=bad)  # refused again, not « déjà importé »


def test_the_drop_folder_task_records_and_moves_a_file_already_imported(
    member, program, tmp_path, settings
):
    settings.CREDIT_DROP_DIR = tmp_path
    row = f"pyrenees-gascogne,{member.account_number},{program.code},2026-04,25,drop-1"
    write(tmp_path, [row], "avril.csv")
    import_dropped_credit_files()
    write(tmp_path, [row], "avril.csv")
    import_dropped_credit_files()
    assert "Fichier déjà importé" in (tmp_path / "done" / "avril.1.csv.rapport.txt").read_text()
    batches = list(CreditImportBatch.objects.order_by("pk").values_list("source", "status"))
    assert batches == [("task", "done"), ("task", "duplicate")]
    assert Wallet.objects.get(member=member).balance == 25


@pytest.fixture
def batches(member, other_member, program, other_caisse, tmp_path):
    """One file of each bank, and one holding rows of both."""
    f.ProgramFactory(caisse_regionale=other_caisse, code="carte-t31")
    m, o = member.account_number, other_member.account_number
    pg = f"pyrenees-gascogne,{m},carte-societaire-gers,2026-01,30,"
    t31 = f"toulouse-31,{o},carte-t31,2026-01,30,"
    for name, lines in [
        ("pg.csv", [pg + "a1"]),
        ("t31.csv", [t31 + "a2"]),
        ("both.csv", [pg + "a3", t31 + "a4"]),
    ]:
        import_credits(path=write(tmp_path, lines, name))
    return {b.file_name: b for b in CreditImportBatch.objects.all()}


def test_staff_read_only_their_banks_batches(client, staff_pg, batches):
    # The staff group's permissions (migration 0005 lets it read the batches).
    staff_pg.groups.add(Group.objects.get(name="Service Tookets"))
    client.force_login(staff_pg)
    listing = client.get(reverse("admin:cagnotte_creditimportbatch_changelist"))
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "pg.csv" in page and "t31.csv" not in page and "both.csv" not in page
    own = reverse("admin:cagnotte_creditimportbatch_change", args=[batches["pg.csv"].pk])
    response = client.get(own)
    assert (
        response.status_code == 200 and "Crédits appliqués : 1 (30 K)" in response.content.decode()
    )
    for other in ("t31.csv", "both.csv"):
        url = reverse("admin:cagnotte_creditimportbatch_change", args=[batches[other].pk])
        assert client.get(url).status_code == 302  # outside the queryset: « not found »
    assert client.get(reverse("admin:cagnotte_creditimportbatch_add")).status_code == 403
    client.post(own, {"report": "changed", "applied": "99"})
    assert CreditImportBatch.objects.get(pk=batches["pg.csv"].pk).applied == 1
    delete = reverse("admin:cagnotte_creditimportbatch_delete", args=[batches["pg.csv"].pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403


def test_a_superuser_reads_every_batch(admin_client, batches):
    page = admin_client.get(reverse("admin:cagnotte_creditimportbatch_changelist"))
    assert all(name in page.content.decode() for name in batches)
