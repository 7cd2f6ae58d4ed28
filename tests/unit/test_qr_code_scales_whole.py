"""The authenticator-app QR code scales to the size the page gives it instead of being cut to it."""

from __future__ import annotations

import re

from passbridge.security.otp import provisioning_uri, qr_svg


def test_the_qr_code_has_a_viewbox_and_no_fixed_size_so_css_scales_it_whole() -> None:
    uri = provisioning_uri("JBSWY3DPEHPK3PXP" * 2, account="a" * 80 + "@contoso.example", issuer="Contoso")
    svg = qr_svg(uri)
    opening = svg[: svg.index(">") + 1]
    found = re.search(r'viewBox="0 0 (\d+) (\d+)"', opening)
    assert found is not None and found.group(1) == found.group(2)
    assert " width=" not in opening and " height=" not in opening
