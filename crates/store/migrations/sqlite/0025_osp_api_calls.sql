-- The compatible API's calls per client, for the service's developers: when, which endpoint, the
-- answer's code and its txID (the correlation id of the platform's logs). No header, body,
-- secret, token or personal data. Kept 7 days (a worker deletes older rows).
CREATE TABLE osp_api_calls (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id),
    at BIGINT NOT NULL,
    endpoint TEXT NOT NULL,
    code TEXT NOT NULL,
    tx_id TEXT NOT NULL
);
CREATE INDEX osp_api_calls_by_client ON osp_api_calls (client_id, at);
CREATE INDEX osp_api_calls_by_time ON osp_api_calls (at);
