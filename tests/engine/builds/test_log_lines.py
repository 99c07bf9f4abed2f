import random
import string
import time
import tracemalloc

from engine.builds.log_lines import (
    CUT_MARKER,
    MAX_LINE_BYTES,
    LineSplitter,
    SecretMasker,
    split_text,
)


def _split(*chunks: bytes) -> list[str]:
    splitter = LineSplitter()
    lines = []
    for chunk in chunks:
        lines += splitter.feed(chunk)
    return lines + splitter.flush()


def _every_two_chunk_split(data: bytes) -> list[list[str]]:
    return [_split(data[:cut], data[cut:]) for cut in range(len(data) + 1)]


def test_a_partial_line_waits_for_the_rest_of_it():
    splitter = LineSplitter()
    assert splitter.feed(b"hel") == []
    assert splitter.feed(b"lo\nwor") == ["hello"]
    assert splitter.feed(b"ld\n") == ["world"]
    assert splitter.feed(b"tail") == []
    assert splitter.flush() == ["tail"]
    assert splitter.flush() == []


def test_blank_lines_are_lines():
    assert _split(b"a\n\n\nb\n") == ["a", "", "", "b"]


def test_crlf_is_one_line_end_wherever_the_chunks_split():
    data = b"a\r\n\r\nb\r\nc"
    assert all(lines == ["a", "", "b", "c"] for lines in _every_two_chunk_split(data))


def test_a_lone_carriage_return_ends_a_line_like_a_progress_bar():
    data = b"\r 10%\r 50%\r100%\ndone\r"
    expected = [" 10%", " 50%", "100%", "done"]
    assert all(lines == expected for lines in _every_two_chunk_split(data))


def test_a_utf8_character_split_across_chunks_decodes_whole():
    text = "naïve €uro 🚀 done\n"
    assert all(lines == [text[:-1]] for lines in _every_two_chunk_split(text.encode()))
    one_byte_at_a_time = [bytes([byte]) for byte in text.encode()]
    assert _split(*one_byte_at_a_time) == [text[:-1]]


def test_invalid_bytes_and_nul_are_replaced():
    assert _split(b"ok \xff\xfe end\n", b"nul\x00here\n", b"cut \xe2\x82") == [
        "ok \ufffd\ufffd end", "nul\ufffdhere", "cut \ufffd"]


def test_a_line_of_exactly_8_kib_is_kept_whole():
    assert _split(b"a" * MAX_LINE_BYTES + b"\n") == ["a" * MAX_LINE_BYTES]


def test_a_longer_line_is_cut_at_a_character_boundary_with_a_marker():
    # 3000 three-byte characters: byte 8192 falls inside the 2731st one.
    text = "€" * 3000
    data = f"{text}\nnext\n".encode()
    chunks = [data[i:i + 7] for i in range(0, len(data), 7)]
    for lines in (_split(data), _split(*chunks)):
        assert lines == ["€" * 2730 + CUT_MARKER, "next"]
        assert len(lines[0].removesuffix(CUT_MARKER).encode()) == 8190


def test_a_cut_line_is_sent_as_soon_as_it_passes_the_limit():
    splitter = LineSplitter()
    assert splitter.feed(b"x" * MAX_LINE_BYTES) == []
    assert splitter.feed(b"xy") == ["x" * MAX_LINE_BYTES + CUT_MARKER]
    assert splitter.feed(b"rest of it\nafter\n") == ["after"]
    assert splitter.flush() == []


def test_a_10_mib_line_without_line_end_is_not_buffered():
    chunk = b"x" * 65536
    splitter = LineSplitter()
    lines = []
    tracemalloc.start()
    try:
        for _ in range(160):
            lines += splitter.feed(chunk)
            assert splitter.buffered_bytes <= MAX_LINE_BYTES + 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024
    assert lines == ["x" * MAX_LINE_BYTES + CUT_MARKER]
    assert splitter.feed(b"y\nafter\n") == ["after"]


def test_a_huge_line_inside_one_chunk_is_cut_too():
    assert _split(b"x" * (10 << 20) + b"\nz\n") == ["x" * MAX_LINE_BYTES + CUT_MARKER, "z"]


def test_a_complete_text_splits_like_output():
    assert split_text("Detected Vite") == ["Detected Vite"]
    assert split_text("one\r\ntwo\n") == ["one", "two"]


def test_every_occurrence_of_every_secret_is_masked():
    masker = SecretMasker(["hunter2", "s3cr3t"])
    assert masker.mask("pw=hunter2 key=s3cr3t again hunter2") == "pw=*** key=*** again ***"
    assert masker.mask("nothing here") == "nothing here"


def test_a_value_containing_another_is_masked_whole():
    masker = SecretMasker(["abc", "abcdef"])
    assert masker.mask("x abcdef y abc") == "x *** y ***"


def test_overlapping_values_leave_no_fragment():
    masker = SecretMasker(["abcd", "cdef"])
    assert masker.mask("xabcdefx") == "x***x"
    assert masker.mask("xcdefabcdx") == "x***x"


def test_values_shorter_than_three_characters_are_ignored():
    masker = SecretMasker(["1", "ab", "", "xyz"])
    assert masker.mask("1 ab xyz") == "1 ab ***"
    assert SecretMasker(["1", "no"]).mask("1 no") == "1 no"


def test_values_are_literal_text_not_patterns():
    masker = SecretMasker(["a.b*c", "(x|y)"])
    assert masker.mask("aXbbc a.b*c (x|y) x") == "aXbbc *** *** x"


def test_a_multi_line_value_is_masked_line_by_line():
    masker = SecretMasker(["-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----"])
    assert masker.mask("MIIEvQIBADANBg") == "***"


def test_a_secret_split_by_the_8_kib_cut_does_not_leak_its_start():
    masker = SecretMasker(["SECRETVALUE"])
    (line,) = _split(b"x" * (MAX_LINE_BYTES - 2) + b"SECRETVALUE and more\n")
    assert masker.mask(line) == "x" * (MAX_LINE_BYTES - 2) + "***" + CUT_MARKER


def test_masking_100k_lines_with_20_secrets_is_fast():
    rng = random.Random(1)
    secrets = ["".join(rng.choices(string.ascii_letters, k=rng.randint(8, 40)))
               for _ in range(20)]
    lines = [f"[{i}] " + "".join(rng.choices(string.ascii_lowercase + " ", k=80))
             + (f" token={secrets[i % 20]}" if i % 100 == 0 else "")
             for i in range(100_000)]
    masker = SecretMasker(secrets)
    started = time.perf_counter()
    masked = [masker.mask(line) for line in lines]
    elapsed = time.perf_counter() - started
    print(f"masked 100k lines with 20 secrets in {elapsed * 1000:.0f} ms")
    assert elapsed < 2.0
    assert sum(line.endswith("token=***") for line in masked) == 1000
    assert not any(secret in line for line in masked for secret in secrets[:3])
