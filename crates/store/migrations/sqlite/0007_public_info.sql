-- Public information (weather, warnings, traffic news, food alerts, press releases): the last good
-- data of each feed in each language, normalised (JSON of the domain's types), and how the last
-- fetches went, so that every server process shows the same data and a failing feed shows its last
-- good data marked as possibly out of date. Times are Unix milliseconds.

CREATE TABLE public_info (
    feed TEXT NOT NULL,               -- weather | local_forecast | nine_day | warnings | warning_details | traffic | food_alerts | press_releases
    lang TEXT NOT NULL,               -- en | tc | both (one document in both languages)
    data TEXT,                        -- normalised JSON of the last good data; NULL until the first success
    data_time BIGINT,                 -- the time the source gives its data (NULL: it gives none)
    source TEXT NOT NULL,             -- live | bundled (the samples compiled into the program)
    fetched_at BIGINT,                -- when the last good data was fetched
    stale_after_ms BIGINT NOT NULL,   -- data fetched longer ago than this is shown as possibly out of date
    last_attempt_at BIGINT NOT NULL,
    last_error TEXT,                  -- why the last attempt failed; NULL after a success
    failures BIGINT NOT NULL,         -- consecutive failed attempts
    PRIMARY KEY (feed, lang)
);
