"""The user's files (manifests, Helm values, collector configs) read and rendered for a component."""
