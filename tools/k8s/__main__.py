"""`python -m tools.k8s` (make k8s-check): renders every overlay of deploy/kubernetes and checks it
offline (schemas of Kubernetes KUBERNETES_VERSION, the policy of tools/k8s/checks.py, Envoy's own
validation of the rendered ingress configuration); exits 1 on any
finding, printing each. With folder arguments, checks those instead."""

from __future__ import annotations

import sys
from pathlib import Path

from tools.k8s.checks import KUBERNETES_VERSION, check, overlays, render


def main(argv: list[str]) -> int:
    folders = [Path(a) for a in argv] or overlays()
    failed = False
    for folder in folders:
        findings = check(folder)
        if findings:
            failed = True
            print(f"{folder}: {len(findings)} finding(s)")
            for finding in findings:
                print(f"  {finding}")
        else:
            count = len(render(folder))
            print(
                f"{folder}: {count} objects, valid for Kubernetes {KUBERNETES_VERSION}, policy holds, "
                "Envoy validates its configuration"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
