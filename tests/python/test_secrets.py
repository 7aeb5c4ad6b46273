# SPDX-License-Identifier: Apache-2.0
"""Secrets and TLS options (docs/network.md): the guest sees the
placeholder, never the value; inspect shows name, hosts and placeholder
only; the sandbox CA and its variables are in the guest; bad options are
InvalidArgumentError naming the entry, not the value. Sync and aio."""
import asyncio
import json
import os
import re

import pytest

import microsandbox as m
from microsandbox import Sandbox, Secret
from microsandbox import aio

from conftest import msb

VALUE = "sk-py-" + os.urandom(12).hex()
PLACEHOLDER = re.compile(r"^\$MSB_OPENAI_API_KEY_[0-9a-f]{16}$")


def test_secret_repr_hides_value():
    s = Secret(VALUE, hosts=["api.openai.com"])
    assert VALUE not in repr(s)


def test_placeholder_in_guest_never_value(home):
    with Sandbox.create(secrets={"OPENAI_API_KEY": Secret(
            VALUE, hosts=["api.openai.com", "*.openai.com"], body=True)},
            tls_bypass=["pinned.example"], tls_ports=[443, 8443]) as sb:
        r = sb.shell('echo "$OPENAI_API_KEY"; cat /proc/1/environ '
                     '/proc/self/environ | tr "\\0" "\\n"; '
                     'echo "$SSL_CERT_FILE $NODE_EXTRA_CA_CERTS"')
        assert r.exit_code == 0
        first = r.stdout.splitlines()[0]
        assert PLACEHOLDER.match(first), r.stdout
        assert VALUE not in r.stdout
        assert ("/etc/ssl/certs/msb-bundle.pem /etc/ssl/certs/msb-ca.pem"
                in r.stdout)
        ca = sb.fs.read("/etc/ssl/certs/msb-ca.pem").decode()
        assert ca.startswith("-----BEGIN CERTIFICATE-----")
        info = sb.inspect()
        assert info["secrets"] == [{
            "name": "OPENAI_API_KEY", "placeholder": first,
            "hosts": ["api.openai.com", "*.openai.com"], "body": True}]
        assert info["tls"]["ports"] == [443, 8443]
        assert info["tls"]["bypass"] == ["pinned.example"]
        with open(info["tls"]["ca"]) as f:
            assert f.read() == ca
        assert VALUE not in json.dumps(info)
        assert VALUE not in msb("ls", "--json")
        sdir = os.path.join(home, "sandboxes", sb.name)
        assert os.stat(os.path.join(sdir, "secrets.json")).st_mode & 0o777 \
            == 0o600
        assert os.stat(os.path.join(sdir, "tls", "ca.key")).st_mode & 0o777 \
            == 0o600
        with open(os.path.join(sdir, "secrets.json")) as f:
            assert json.load(f)["secrets"][0]["value"] == VALUE


def test_aio_secret():
    async def main():
        async with aio.Sandbox.create(secrets={"TOKEN": Secret(
                VALUE, hosts=["git.example"])}) as sb:
            r = await sb.shell('echo "$TOKEN"')
            return r.stdout.strip()
    out = asyncio.run(main())
    assert re.match(r"^\$MSB_TOKEN_[0-9a-f]{16}$", out)


@pytest.mark.parametrize("kwargs,needle", [
    ({"secrets": {"lower": Secret(VALUE, hosts=["a.example"])}}, "lower"),
    ({"secrets": {"K": Secret(VALUE, hosts=[])}}, "`K`"),
    ({"secrets": {"K": Secret(VALUE, hosts=["bad host"])}}, "bad host"),
    ({"secrets": {"K": Secret(VALUE, hosts=["a.example"])},
      "network": "none"}, "network"),
    ({"secrets": {"K": Secret(VALUE, hosts=["a.example"])},
      "env": {"K": "x"}}, "`K`"),
    ({"tls_intercept": True, "tls_ports": [0]}, "port 0"),
    ({"tls_ports": [8443]}, "need TLS interception"),
    ({"tls_intercept": True, "tls_ca": "/nonexistent.pem"},
     "/nonexistent.pem"),
])
def test_bad_options(kwargs, needle):
    with pytest.raises(m.InvalidArgumentError) as e:
        Sandbox.create(**kwargs)
    assert needle in str(e.value)
    assert VALUE not in str(e.value)


def test_secret_type_checked():
    with pytest.raises(TypeError):
        Sandbox.create(secrets={"K": VALUE})
