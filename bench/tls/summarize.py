#!/usr/bin/env python3
"""Summarizes one testssl.sh JSON file: counts by severity, and every finding rated MEDIUM or
above. Exits 1 when any is HIGH or CRITICAL (or the scan produced nothing)."""
import json
import sys
from collections import Counter

ORDER = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN", "INFO", "OK"]
# Findings about the certificate `ferry cert` makes, not about the server: a self-signed
# certificate names no CRL or OCSP responder (one a CA issued does). Listed, never counted.
CERTIFICATE_ONLY = {"cert_revocation"}


def main(path, label):
    try:
        with open(path) as f:
            findings = json.load(f)
    except (OSError, ValueError) as error:
        print(f"{label}: no testssl result ({error})")
        return 1
    ignored = [f for f in findings if f.get("id") in CERTIFICATE_ONLY]
    findings = [f for f in findings if f.get("id") not in CERTIFICATE_ONLY]
    counts = Counter(finding.get("severity", "?") for finding in findings)
    summary = ", ".join(f"{counts[s]} {s}" for s in ORDER if counts[s])
    print(f"{label}: {summary}")
    for finding in findings:
        if finding.get("severity") in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN"):
            print(f"  {finding['severity']:8} {finding['id']}: {finding['finding']}")
    for finding in ignored:
        print(f"  (certificate, not counted) {finding['severity']} {finding['id']}: "
              f"{finding['finding']}")
    scanned = any(f.get("id") == "protocols" or f.get("id", "").startswith("TLS") for f in findings)
    if not scanned:
        print(f"{label}: the scan did not reach the protocols")
        return 1
    return 1 if counts["CRITICAL"] or counts["HIGH"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
