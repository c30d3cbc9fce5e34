"""The local vulnerability database: one normalized (OSV-style) format (:mod:`.model`), importers
for public feeds (:mod:`.wordfence`, :mod:`.friendsofphp`), matching of what a probe found
(:mod:`.match`) and ``owl vulndb`` (:mod:`.command`)."""
