"""How the members' personal codes are hashed: Argon2id, with parameters chosen here.

A personal code is 6 digits: a million candidates. No hash makes a million guesses costly
enough against someone who holds the database (docs/scale.md, « Personal codes »): the
real defence is online, the lockout after 3 wrong codes (django-axes). What the hash buys is
time and cost for an attacker with a copy of the table, without spending half a second of a
core on every honest login as PBKDF2 at 1,000,000 iterations did.

Parameters (OWASP Password Storage Cheat Sheet, Argon2id: m=19 MiB, t=2, p=1 is the minimum
it lists; m=46 MiB t=1, m=12 MiB t=3 and m=9 MiB t=4 are its equivalent trade-offs), measured
with ``bench/login_bench.py`` on the 2-core machine (docs/scale.md, « Personal codes »): we
keep 19 MiB, t=2, p=1. Changing them re-hashes each code at its next successful login
(``must_update``, accounts.identity).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher

# OWASP's minimum: 19 MiB (19,456 KiB), 2 passes, 1 lane.
MEMORY_KIB = 19 * 1024
TIME_COST = 2
PARALLELISM = 1


class PersonalCodeHasher(Argon2PasswordHasher):
    """Argon2id with the parameters above (Django's own defaults are m=100 MiB, t=2, p=8)."""

    # The algorithm name stays "argon2": hashes are Django's standard encoding, readable by
    # Django's own Argon2PasswordHasher, and a change of parameters is an upgrade, not a
    # new algorithm.
    memory_cost = MEMORY_KIB
    time_cost = TIME_COST
    parallelism = PARALLELISM
