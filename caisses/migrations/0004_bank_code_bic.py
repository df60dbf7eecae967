"""Each regional bank's bank code and BIC (payouts to associations, issue 10 §3)."""

from django.db import migrations, models


def payout_iban(bank_code: str) -> str:
    # The bank's own Tookets account: branch 00001, account 00000000001, RIB key computed.
    from schwifty import IBAN

    return str(
        IBAN.generate("FR", bank_code=bank_code, branch_code="00001", account_code="00000000001")
    )


def load(apps, schema_editor):
    from caisses.data import BANK_DETAILS

    CaisseRegionale = apps.get_model("caisses", "CaisseRegionale")
    for code, (bank_code, bic) in BANK_DETAILS.items():
        CaisseRegionale.objects.filter(code=code).update(
            bank_code=bank_code, bic=bic, payout_iban=payout_iban(bank_code)
        )


class Migration(migrations.Migration):
    dependencies = [("caisses", "0003_french_verbose_names")]

    operations = [
        migrations.AddField(
            model_name="caisseregionale",
            name="bank_code",
            field=models.CharField(blank=True, max_length=5, verbose_name="code banque"),
        ),
        migrations.AddField(
            model_name="caisseregionale",
            name="bic",
            field=models.CharField(blank=True, max_length=11, verbose_name="BIC"),
        ),
        migrations.AddField(
            model_name="caisseregionale",
            name="payout_iban",
            field=models.CharField(
                blank=True, max_length=34, verbose_name="IBAN du compte payeur"
            ),
        ),
        migrations.RunPython(load, migrations.RunPython.noop),
    ]
