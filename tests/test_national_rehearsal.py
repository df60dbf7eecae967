"""The national bank's year (bench/national_rehearsal.py), played small on every CI run.

The bench itself runs 1.5 M members; here a few hundred go through the same steps (files,
imports, gifts, the close, the sweep, the statement, SEPA, check_ledger) on PostgreSQL, so the
rehearsal cannot rot between the times it is run at size.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

from cagnotte.models import LedgerEntry, Wallet

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _rehearsal():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(
            "national_rehearsal", BENCH / "national_rehearsal.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


# serialized_rollback: the flush after a transactional test would recreate the content types
# under new ids and break the serialized reference data of the transactional tests after it.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_small_national_year_goes_through_every_step(require_postgres):
    lines = []
    figures = _rehearsal().rehearse(
        members=300, months=3, gifts=20, associations=12, out=lines.append
    )

    assert figures["credits"] == 900
    assert figures["gifts"] == 20
    assert figures["swept"] is True
    assert figures["ledger_ok"], figures["check"]
    # Every wallet emptied by the sweep; what the ledger says was credited equals what went out.
    assert not Wallet.objects.filter(balance__gt=0).exists()
    credited = sum(LedgerEntry.objects.filter(kind="credit").values_list("amount", flat=True))
    assert figures["sweep"].to_favourites + figures["sweep"].returned + 20 * 100 == credited
    # Every association got a gift (20 gifts over 12) and the favourites' sweep: all are paid.
    assert figures["statement_lines"] == 12
    assert figures["sepa_cents"] == credited - figures["sweep"].returned
    labels = [line.split(":")[0] for line in lines]
    assert "sweep" in labels and "check_ledger" in labels and "SEPA file" in labels
    assert figures["sizes"][-1][0] == "database, in all"
