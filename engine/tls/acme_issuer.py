"""One certificate from an ACME CA over HTTP-01, with certbot's `acme` package doing the protocol.

Blocking (the `acme` client speaks `requests`): call from an executor. The CA validates by
fetching `http://<name>/.well-known/acme-challenge/<token>` from Slipway's plain-HTTP port, so
the caller publishes each token's answer (`publish`) before it is asked for and withdraws it
(`withdraw`) afterwards, whatever the outcome.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

import josepy
from acme import challenges, client, crypto_util, errors, messages
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

USER_AGENT = "slipway"
ORDER_SECONDS = 90  # how long an order may take, from the first request to the certificate
NETWORK_TIMEOUT = 30


class IssuanceError(Exception):
    """The CA refused or the validation failed; the message is the CA's reason, for users."""


@dataclass(frozen=True)
class AcmeAccount:
    """An account with a CA: its key (PEM) and, once registered, its URL there."""

    key_pem: bytes
    url: str | None = None


@dataclass(frozen=True)
class Issued:
    key_pem: bytes  # the certificate's private key
    chain_pem: bytes  # the certificate, then its intermediates
    not_after: datetime.datetime


Publish = Callable[[str, str], None]  # (token path, key authorization)


def new_key_pem() -> bytes:
    """A P-256 key, for an account or a certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def issue(directory_url: str, account: AcmeAccount, hostnames: list[str], *,
          publish: Publish, withdraw: Callable[[str], None], email: str | None = None,
          ca_bundle: str | None = None) -> tuple[Issued, AcmeAccount]:
    """Order a certificate for `hostnames` and return it with the account (now registered)."""
    jwk = josepy.JWKEC(key=serialization.load_pem_private_key(account.key_pem, None))
    network = client.ClientNetwork(jwk, alg=josepy.ES256, verify_ssl=ca_bundle or True,
                                   user_agent=USER_AGENT, timeout=NETWORK_TIMEOUT)
    try:
        acme = client.ClientV2(client.ClientV2.get_directory(directory_url, network), network)
        account = _registered(acme, network, account, email)
        key_pem = new_key_pem()
        order = acme.new_order(crypto_util.make_csr(key_pem, hostnames))
        published = []
        try:
            for authorization in order.authorizations:
                if authorization.body.status == messages.STATUS_VALID:
                    continue  # validated lately (CAs reuse authorizations): nothing to answer
                challenge = _http01(authorization)
                response, validation = challenge.response_and_validation(jwk)
                publish(challenge.chall.path, validation)
                published.append(challenge.chall.path)
                acme.answer_challenge(challenge, response)
            deadline = datetime.datetime.now() + datetime.timedelta(seconds=ORDER_SECONDS)
            order = acme.poll_and_finalize(order, deadline)
        finally:
            for path in published:
                withdraw(path)
    except errors.ValidationError as exc:
        raise IssuanceError(_validation_reason(exc)) from exc
    except messages.Error as exc:
        raise IssuanceError(exc.detail or str(exc)) from exc
    except (errors.Error, OSError) as exc:
        raise IssuanceError(f"the ACME CA could not be reached or answered badly: {exc}") from exc
    chain = order.fullchain_pem.encode()
    leaf = x509.load_pem_x509_certificate(chain)
    return Issued(key_pem, chain, leaf.not_valid_after_utc), account


def _registered(acme: client.ClientV2, network: client.ClientNetwork, account: AcmeAccount,
                email: str | None) -> AcmeAccount:
    if account.url is not None:
        network.account = messages.RegistrationResource(
            body=messages.Registration(), uri=account.url)
        return account
    registration = messages.NewRegistration.from_data(email=email,
                                                      terms_of_service_agreed=True)
    try:
        resource = acme.new_account(registration)
    except errors.ConflictError as exc:  # the key is registered already: reuse that account
        resource = acme.query_registration(
            messages.RegistrationResource(body=messages.Registration(), uri=exc.location))
    return AcmeAccount(account.key_pem, resource.uri)


def _http01(authorization: messages.AuthorizationResource) -> messages.ChallengeBody:
    for challenge in authorization.body.challenges:
        if isinstance(challenge.chall, challenges.HTTP01):
            return challenge
    name = authorization.body.identifier.value
    raise IssuanceError(f"the ACME CA offers no HTTP-01 challenge for {name}")


def _validation_reason(exc: errors.ValidationError) -> str:
    reasons = []
    for authorization in exc.failed_authzrs:
        name = authorization.body.identifier.value
        for challenge in authorization.body.challenges:
            if challenge.error is not None:
                reasons.append(f"{name}: {challenge.error.detail or challenge.error.typ}")
    return "; ".join(reasons) or "the CA could not validate the domain"
