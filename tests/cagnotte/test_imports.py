import pytest
from django.core.management import CommandError, call_command

from cagnotte.imports import ImportFileError, import_credits
from cagnotte.models import LedgerEntry, Wallet
from tests import factories as f
from tests.cagnotte.helpers import assert_ledger_consistent

HEADER = "caisse_code,account_number,program_code,period,amount,reference"


@pytest.fixture(params=["python", "postgres"])
def engine(request, db):
    if request.param == "postgres":
        request.getfixturevalue("require_postgres")
    return request.param


def write(tmp_path, lines, name="credits.csv"):
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def cast(member, other_member, program, other_caisse, pg_caisse):
    other_program = f.ProgramFactory(caisse_regionale=other_caisse, code="carte-t31")
    association_user = f.UserFactory(caisse_regionale=pg_caisse, kind="association")
    return {
        "member": member,
        "other_member": other_member,
        "program": program,
        "other_program": other_program,
        "association_user": association_user,
    }


def test_good_rows_are_applied_and_bad_rows_reported(engine, cast, tmp_path):
    m, o = cast["member"].account_number, cast["other_member"].account_number
    path = write(
        tmp_path,
        [
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-01,300,r1",  # 2
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-02,110,r2",  # 3
            "pyrenees-gascogne,99999999999,carte-societaire-gers,2026-02,10,r3",  # 4
            f"pyrenees-gascogne,{m},inconnu,2026-02,10,r4",  # 5
            f"pyrenees-gascogne,{m},carte-t31,2026-02,10,r5",  # 6
            "pyrenees-gascogne,12ab,carte-societaire-gers,2026-02,10,r6",  # 7
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-13,10,r7",  # 8
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-02,0,r8",  # 9
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-02,-4,r9",  # 10
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-02,2.5,r10",  # 11
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-02,10,r1",  # 12
            f"nulle-part,{m},carte-societaire-gers,2026-02,10,r11",  # 13
            f"pyrenees-gascogne,{cast['association_user'].account_number},carte-societaire-gers,2026-02,10,r12",  # 14
            "pyrenees-gascogne,trop,peu",  # 15
            f"toulouse-31,{o},carte-t31,2026-02,40,r13",  # 16
            "",
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-02,,r14",  # 18
        ],
    )
    report = import_credits(path=path, engine=engine)
    reasons = dict(report.errors)
    assert sorted(reasons) == [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 18]
    assert reasons[4].startswith("sociétaire inconnu")
    assert reasons[5] == "programme inconnu"
    assert reasons[6] == "programme d’une autre caisse régionale"
    assert reasons[7].startswith("numéro de compte invalide")
    assert reasons[8].startswith("période invalide")
    assert reasons[9].startswith("montant invalide")
    assert reasons[10].startswith("montant invalide")
    assert reasons[11].startswith("montant invalide")
    assert reasons[12] == "référence en double dans le fichier (déjà vue ligne 2)"
    assert reasons[13] == "caisse régionale inconnue"
    assert reasons[14].startswith("sociétaire inconnu")  # an association's account is no member
    assert reasons[15].startswith("nombre de colonnes")
    assert reasons[18].startswith("montant invalide")
    assert (report.rows, report.applied, report.already_applied) == (16, 3, 0)
    assert report.tookets_applied == 450
    assert report.wallets_created == 2
    wallet = Wallet.objects.get(member=cast["member"], program=cast["program"])
    assert wallet.balance == 410
    assert set(wallet.entries.values_list("period", flat=True)) == {"2026-01", "2026-02"}
    assert Wallet.objects.get(member=cast["other_member"]).balance == 40
    assert_ledger_consistent()


def test_the_same_file_twice_credits_once(engine, cast, tmp_path):
    m = cast["member"].account_number
    path = write(
        tmp_path,
        [f"pyrenees-gascogne,{m},carte-societaire-gers,2026-0{n},{n}0,same-{n}" for n in (1, 2, 3)],
    )
    first = import_credits(path=path, engine=engine)
    second = import_credits(path=path, engine=engine, force=True)
    assert (first.applied, first.already_applied) == (3, 0)
    assert (second.applied, second.already_applied, second.errors) == (0, 3, [])
    assert Wallet.objects.get(member=cast["member"]).balance == 60
    assert LedgerEntry.objects.count() == 3
    assert_ledger_consistent()


def test_all_or_nothing_applies_nothing_when_a_row_is_bad(engine, cast, tmp_path):
    m = cast["member"].account_number
    path = write(
        tmp_path,
        [
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-01,10,a1",
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-01,abc,a2",
        ],
    )
    report = import_credits(path=path, all_or_nothing=True, engine=engine)
    assert report.rejected and report.errors == [(3, report.errors[0][1])]
    assert not LedgerEntry.objects.exists()
    assert not Wallet.objects.exists()


def test_header_is_checked(engine, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ImportFileError):
        import_credits(path=path, engine=engine)


def test_windows_line_endings_bom_and_quotes(engine, cast, tmp_path):
    m = cast["member"].account_number
    path = tmp_path / "win.csv"
    path.write_bytes(
        (
            "\ufeff"
            + HEADER
            + "\r\n"
            + f'pyrenees-gascogne,"{m}",carte-societaire-gers,2026-03,7,w1\r\n'
        ).encode()
    )
    report = import_credits(path=path, engine=engine)
    assert (report.applied, report.errors) == (1, [])
    assert Wallet.objects.get(member=cast["member"]).balance == 7


def test_command_prints_the_report_and_fails_with_all_or_nothing(cast, tmp_path, capsys):
    m = cast["member"].account_number
    path = write(
        tmp_path,
        [
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-01,10,c1",
            f"pyrenees-gascogne,{m},inconnu,2026-01,10,c2",
        ],
    )
    report_path = tmp_path / "rapport.txt"
    call_command("import_credits", str(path), "--report", str(report_path))
    out = capsys.readouterr().out
    assert "Crédits appliqués : 1 (10 K)" in out
    assert "ligne 3 : programme inconnu" in out
    assert "ligne 3 : programme inconnu" in report_path.read_text()
    with pytest.raises(CommandError):
        call_command("import_credits", str(path), "--all-or-nothing", "--force")
    assert Wallet.objects.get(member=cast["member"]).balance == 10


def test_check_ledger_command_passes_then_names_a_corrupted_wallet(cast, tmp_path, capsys):
    m = cast["member"].account_number
    import_credits(
        path=write(tmp_path, [f"pyrenees-gascogne,{m},carte-societaire-gers,2026-01,10,k1"])
    )
    call_command("check_ledger")
    assert "Grand livre cohérent" in capsys.readouterr().out
    wallet = Wallet.objects.get(member=cast["member"])
    Wallet.objects.filter(pk=wallet.pk).update(balance=11)
    with pytest.raises(CommandError):
        call_command("check_ledger")
    err = capsys.readouterr().err
    assert f"cagnotte {wallet.pk} ({cast['member'].username}, carte-societaire-gers)" in err
    assert "solde 11, somme des mouvements 10" in err


def test_empty_fields_of_a_well_formed_file(engine, cast, tmp_path):
    m = cast["member"].account_number
    path = write(
        tmp_path,
        [
            f"pyrenees-gascogne,{m},carte-societaire-gers,,10,e1",
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-01,,e2",
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-01,10,",
            f",{m},carte-societaire-gers,2026-01,10,e4",
            "pyrenees-gascogne,,carte-societaire-gers,2026-01,10,e5",
            f"pyrenees-gascogne,{m},,2026-01,10,e6",
            f"pyrenees-gascogne,{m},carte-societaire-gers,2026-01,10,e7",
        ],
    )
    report = import_credits(path=path, engine=engine)
    reasons = dict(report.errors)
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7]
    assert reasons[2].startswith("période invalide")
    assert reasons[3].startswith("montant invalide")
    assert reasons[4].startswith("référence manquante")
    assert reasons[5] == "caisse régionale inconnue"
    assert reasons[6].startswith("numéro de compte invalide")
    assert reasons[7] == "programme inconnu"
    assert report.applied == 1


def test_check_ledger_names_an_association_whose_totals_drifted(member, program, association):
    from cagnotte.models import AssociationTotals
    from cagnotte.services import give_tookets
    from tests.cagnotte.helpers import credit

    credit(member, program, 100)
    give_tookets(
        member=member, program=program, association_id=association.pk, amount=30, token="d"
    )
    call_command("check_ledger")
    AssociationTotals.objects.filter(association=association).update(received_total=31)
    with pytest.raises(CommandError):
        call_command("check_ledger")


def test_progress_bars_on_a_terminal(engine, cast, tmp_path, capsys):
    m = cast["member"].account_number
    path = write(tmp_path, [f"pyrenees-gascogne,{m},carte-societaire-gers,2026-01,5,pb-1"])
    report = import_credits(path=path, engine=engine, progress=True)
    assert report.applied == 1
    assert "lignes" in capsys.readouterr().err or engine == "postgres"
