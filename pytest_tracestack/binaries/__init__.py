"""The binaries a profile needs: found, downloaded and verified, or built (OCB)."""
