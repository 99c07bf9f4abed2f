import base64
import json
import random
import re
import string
import time
import tracemalloc
from urllib.parse import quote, quote_plus

from engine.builds.log_lines import (
    CUT_MARKER,
    MAX_LINE_BYTES,
    LineSplitter,
    SecretMasker,
    split_text,
)
from engine.builds.workspace import quote as quote_for_env


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


# A secret whose encodings differ from it in every way they can: base64 gives `+` and `/`
# (so the URL-safe alphabet differs), and it holds a space, a quote, an apostrophe, a
# backslash and a non-ASCII letter for URL, JSON and shell quoting.
AWKWARD = "it's a \"pass\\w0rd\" café?>>~~"


def test_base64_forms_of_a_secret_are_masked_standard_and_url_safe_padded_or_not():
    plain = base64.b64encode(AWKWARD.encode()).decode()
    url_safe = base64.urlsafe_b64encode(AWKWARD.encode()).decode()
    assert plain != url_safe and plain.endswith("=")
    masker = SecretMasker([AWKWARD])
    for encoded in (plain, plain.rstrip("="), url_safe, url_safe.rstrip("=")):
        assert masker.mask(f"value: {encoded} end") == "value: *** end"


def test_a_secret_inside_a_larger_base64_text_is_masked_at_each_byte_offset():
    masker = SecretMasker(["hunter2-token"])
    for prefix in ("", "a", "ad", "ada:"):
        encoded = base64.b64encode(f"{prefix}hunter2-token:and more".encode()).decode()
        masked = masker.mask(f"Authorization: Basic {encoded}")
        # What survives around the mask encodes the prefix, the suffix, and at most a few
        # bits of the secret's first and last characters.
        assert re.fullmatch(r"Authorization: Basic [\w+/]{0,7}\*\*\*[\w+/]{0,14}=*", masked), (
            prefix, masked)


def test_hex_forms_of_a_secret_are_masked_lower_and_upper_case():
    masker = SecretMasker([AWKWARD])
    hexed = AWKWARD.encode().hex()
    assert masker.mask(f"sha {hexed} / {hexed.upper()}") == "sha *** / ***"


def test_url_encoded_forms_of_a_secret_are_masked():
    masker = SecretMasker([AWKWARD])
    forms = [quote(AWKWARD, safe=""), quote_plus(AWKWARD, safe=""),
             quote(AWKWARD, safe="!~*'()")]  # JavaScript's encodeURIComponent
    assert len(set(forms)) == 3
    for encoded in forms:
        assert masker.mask(f"https://x/?token={encoded}&next=1") == "https://x/?token=***&next=1"


def test_json_escaped_forms_of_a_secret_are_masked():
    secret = 'line one\nsays "hi" \\ to a café\tnow'
    masker = SecretMasker([secret])
    for ensure_ascii in (False, True):  # JSON.stringify keeps é, Python writes \u00e9
        encoded = json.dumps({"token": secret}, ensure_ascii=ensure_ascii)
        assert masker.mask(encoded) == '{"token": "***"}'


def test_the_env_file_quoting_of_a_secret_is_masked():
    masker = SecretMasker([AWKWARD])
    assert masker.mask(f"API_KEY={quote_for_env(AWKWARD)}") == "API_KEY='***'"


def test_a_multi_line_value_across_consecutive_lines_is_masked_whole():
    # Each line of it is too short to mask alone, the whole is not.
    masker = SecretMasker(["ab\r\ncd\nef"])
    assert masker.mask_lines(["key: ab", "cd", "ef.", "ab cd ef"]) == [
        "key: ***", "***", "***.", "ab cd ef"]
    assert masker.mask_lines(["ab", "cd"]) == ["ab", "cd"]  # not the whole value


def test_a_pem_key_is_masked_line_by_line_and_in_its_env_file_quoting():
    key = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
           "BKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n")
    masker = SecretMasker([key])
    printed = f"KEY={quote_for_env(key)}".split("\n")
    assert masker.mask_lines(printed) == ["KEY='***", "***", "***", "***", "'"]
    assert masker.mask("BKcwggSjAgEAAoIBAQC7") == "***"


def test_a_long_secret_printed_by_base64_wrapped_at_76_columns_is_masked_line_by_line():
    secret = "".join(random.Random(2).choices(string.ascii_letters, k=150))
    wrapped = base64.encodebytes(secret.encode()).decode().splitlines()
    assert len(wrapped) == 3
    assert SecretMasker([secret]).mask_lines(wrapped) == ["***"] * 3


def test_encoded_forms_too_short_or_too_repetitive_are_not_masked():
    # "abc" itself is masked, but its base64 (4 characters) and hex (6 digits) would
    # shred every hash and number in the log.
    assert SecretMasker(["abc"]).mask("abc YWJj 616263") == "*** YWJj 616263"
    assert SecretMasker(["aaaa"]).mask("61616161") == "61616161"
    # A value too short to mask is not masked through a longer escaped form either.
    assert SecretMasker(['"\\']).mask('x "\\"\\\\" %22%5C') == 'x "\\"\\\\" %22%5C'


def test_an_encoded_secret_split_by_the_8_kib_cut_does_not_leak_its_start():
    encoded = base64.b64encode(AWKWARD.encode()).decode()
    (line,) = _split(b"x" * (MAX_LINE_BYTES - 10) + encoded.encode() + b" and more\n")
    assert SecretMasker([AWKWARD]).mask(line) == "x" * (MAX_LINE_BYTES - 10) + "***" + CUT_MARKER


def test_masking_100k_lines_with_20_secrets_and_their_encodings_is_fast():
    rng = random.Random(1)
    secrets = ["".join(rng.choices(string.ascii_letters + string.punctuation + " ",
                                   k=rng.randint(8, 40))) for _ in range(20)]
    encoders = [lambda s: s, lambda s: base64.b64encode(s.encode()).decode(),
                lambda s: s.encode().hex(), lambda s: quote(s, safe=""),
                lambda s: json.dumps(s)[1:-1]]
    lines = [f"[{i}] " + "".join(rng.choices(string.ascii_letters + string.digits + " /.-_", k=80))
             + (f" token={encoders[i // 100 % 5](secrets[i % 20])}" if i % 100 == 0 else "")
             for i in range(100_000)]
    masker = SecretMasker(secrets)
    started = time.perf_counter()
    masked = [masker.mask(line) for line in lines]
    one_by_one = time.perf_counter() - started
    started = time.perf_counter()
    batched = [text for start in range(0, len(lines), 500)
               for text in masker.mask_lines(lines[start:start + 500])]
    in_batches = time.perf_counter() - started
    print(f"masked 100k lines with 20 secrets and their encodings in {one_by_one * 1000:.0f} ms "
          f"one by one, {in_batches * 1000:.0f} ms in batches of 500")
    assert batched == masked
    assert in_batches < 2.0
    assert sum(line.endswith("token=***") for line in masked) == 1000


def test_values_that_are_prefixes_of_one_another_hundreds_deep_are_masked_longest_first():
    masker = SecretMasker(["x" * size for size in range(3, 403)])
    assert masker.mask("a " + "x" * 150 + " b " + "x" * 500 + " c") == "a *** b *** c"
