"""Requests (aanvragen): applying for eHerkenning, extra organisations and mandates, signatures and verification."""
