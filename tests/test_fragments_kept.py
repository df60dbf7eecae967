"""The process-local copies of state-named values (``tookets.fragments.kept_get``): bounded,
least recently used out first, and never a substitute for a value the cache never had."""

import threading

from django.core.cache import cache

from tookets.fragments import Kept, kept_get, kept_set


def test_the_least_recently_used_goes_first_and_the_size_holds():
    kept = Kept(3)
    for key in "abc":
        kept.set(key, key.upper())
    assert kept.get("a") == "A"  # now the most recent
    kept.set("d", "D")
    assert kept.get("b") is None
    assert [kept.get(key) for key in "acd"] == ["A", "C", "D"]
    kept.set("e", "E")
    assert kept.get("a") is None and len(kept._items) == 3


def test_kept_reads_memory_first_then_the_cache():
    assert kept_get("fragment:test:absent") is None
    cache.set("fragment:test:shared", "from the cache")
    assert kept_get("fragment:test:shared") == "from the cache"
    cache.delete("fragment:test:shared")
    assert kept_get("fragment:test:shared") == "from the cache"  # kept since the first read
    kept_set("fragment:test:written", {"rows": [1, 2]})
    assert cache.get("fragment:test:written") == {"rows": [1, 2]}
    cache.clear()
    assert kept_get("fragment:test:written") == {"rows": [1, 2]}


def test_threads_share_the_copies_without_losing_the_bound():
    kept = Kept(50)

    def writer(start):
        for n in range(start, start + 500):
            kept.set(str(n), n)
            kept.get(str(n - 1))

    threads = [threading.Thread(target=writer, args=(k * 1000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(kept._items) == 50
    assert all(kept.get(key) == int(key) for key in list(kept._items))


def test_forgetting_empties_every_copy():
    from tookets.fragments import forget_kept

    first, second = Kept(4), Kept(4)
    first.set("a", 1)
    second.set("b", 2)
    kept_set("fragment:test:forgotten", "x")
    cache.clear()
    forget_kept()
    assert first.get("a") is None and second.get("b") is None
    assert kept_get("fragment:test:forgotten") is None
