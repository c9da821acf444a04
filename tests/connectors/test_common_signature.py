import pytest

from connectors.common.signature import sign_meta_payload, verify_meta_signature

BODY = b'{"object":"whatsapp_business_account","entry":[]}'
SECRET = "app-secret"


def test_a_signature_made_with_the_secret_verifies() -> None:
    assert verify_meta_signature(BODY, sign_meta_payload(BODY, SECRET), SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256=not-hex",
        sign_meta_payload(BODY, "other-secret"),
        sign_meta_payload(BODY + b" ", SECRET),
        sign_meta_payload(BODY, SECRET).replace("sha256=", "sha1="),
        sign_meta_payload(BODY, SECRET).removeprefix("sha256="),
    ],
    ids=["missing", "empty", "no-digest", "garbage", "wrong-secret", "other-body", "sha1", "bare"],
)
def test_anything_else_is_refused(header: str | None) -> None:
    assert not verify_meta_signature(BODY, header, SECRET)


def test_an_empty_secret_never_verifies() -> None:
    assert not verify_meta_signature(BODY, sign_meta_payload(BODY, ""), "")
