"""Offline checks of the Kubernetes manifests (deploy/kubernetes): render, schemas, policy."""
