"""The knowledge graph over the catalogue (issue "Knowledge graph").

``model`` (labels, relationship types, node ids) · ``projection`` (relational rows → graph rows,
checksums) · ``store`` (the ``GraphStore`` protocol) · ``embedded`` (answers from SQL, the default)
· ``neo4j_store`` + ``cypher`` (Neo4j) · ``sync`` (the outbox projector) · ``factory`` (choose by
settings) · ``results`` (response models) · ``errors``.
"""
