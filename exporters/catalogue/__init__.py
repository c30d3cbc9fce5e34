"""The local catalogue of CMS core (and component) versions: which releases are the latest, which
branches are still supported. :mod:`.model` reads it and answers questions about an installed
version, :mod:`.refresh` rebuilds it from the upstream APIs, :mod:`.command` is
``owl catalogue``. The shipped file is ``catalogue.json`` beside this module."""
