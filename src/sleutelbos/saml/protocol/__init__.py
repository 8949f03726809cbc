"""The eHerkenning SAML profile as plain functions on bytes, lxml trees and dataclasses. No Django here."""
