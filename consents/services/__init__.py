"""Writes for consents, one module per concern; import a function from the module that owns it.

families (families, children, carers, coordinators), form_versions (the form's words),
requests (asking carers, by email link), evidence (what each record proves), signing (giving
consent: by link, signed in, on paper or by phone) and withdrawal. Every write records an audit
event in the same transaction; emails go after commit. Refusals are `consents.errors.ConsentError`.
"""
