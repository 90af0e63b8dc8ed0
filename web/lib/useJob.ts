'use client';

import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { api, ApiError, isTerminal, type JobRecord } from './api';
import { openJobStream, type StreamState } from './events';
import { followReducer, initialFollow } from './follow';
import { backoffInterval, startPolling, type Poller } from './poll';

export interface UseJob {
  state: typeof initialFollow;
  stream: StreamState | 'off';
  /** the last error from polling (cleared by the next good answer) */
  error: ApiError | null;
  notFound: boolean;
  /** follow the job again from scratch (after Retry) */
  restart(): void;
  /** fetch the record now */
  refresh(): void;
}

/**
 * Follows one job: polls GET /jobs/{id} about once a second (backing off while the
 * tab is hidden, stopping at a terminal status) and listens to its event stream for
 * progress and partial text; polling alone carries on if the stream fails.
 */
export function useJob(id: string | null, opts: { stream?: boolean } = {}): UseJob {
  const useStream = opts.stream ?? true;
  const [state, dispatch] = useReducer(followReducer, initialFollow);
  const [stream, setStream] = useState<StreamState | 'off'>('off');
  const [error, setError] = useState<ApiError | null>(null);
  const [notFound, setNotFound] = useState(false);
  const [generation, setGeneration] = useState(0);
  const pollerRef = useRef<Poller | null>(null);
  // The id of the last stream event seen, and where a restarted stream resumes: after a
  // Retry the job's stream still holds the previous run's events, ending in its terminal
  // status; replaying them would close the new stream before the new run begins.
  const lastEventRef = useRef<string | null>(null);
  const resumeRef = useRef<string | null>(null);

  useEffect(() => {
    dispatch({ kind: 'reset' });
    setError(null);
    setNotFound(false);
    setStream('off');
    if (!id) return;

    let lastStatus: string | null = null;
    let gone = false;
    const after = resumeRef.current;
    resumeRef.current = null;
    lastEventRef.current = after;
    const jobStream = useStream
      ? openJobStream(
          api.eventsUrl(id),
          {
            onEvent(event) {
              if (event.eventId) lastEventRef.current = event.eventId;
              dispatch({ kind: 'event', event });
              // A status change: fetch the record now (for the result or the error).
              if (event.type === 'status' && event.status !== lastStatus) pollerRef.current?.poke();
            },
            onState: setStream,
          },
          { after },
        )
      : null;

    const poller = startPolling<JobRecord>({
      load: (signal) => api.getJob(id, signal),
      onData(record) {
        lastStatus = record.status;
        setError(null);
        dispatch({ kind: 'record', record });
        if (record.archived) {
          // From the history database: Redis no longer holds the job, nor its events.
          jobStream?.close();
          setStream('off');
        } else if (isTerminal(record.status)) jobStream?.jobEnded();
      },
      onError(err) {
        if (err instanceof ApiError && err.status === 404) {
          gone = true;
          setNotFound(true);
          jobStream?.close();
          setStream('off');
        } else if (err instanceof ApiError) setError(err);
      },
      interval(last, ctx) {
        if (last && isTerminal(last.status)) return false;
        if (gone) return false;
        return backoffInterval(ctx);
      },
    });
    pollerRef.current = poller;
    return () => {
      poller.stop();
      jobStream?.close();
      pollerRef.current = null;
    };
  }, [id, generation, useStream]);

  const restart = useCallback(() => {
    resumeRef.current = lastEventRef.current;
    setGeneration((g) => g + 1);
  }, []);
  const refresh = useCallback(() => pollerRef.current?.poke(), []);
  return { state, stream, error, notFound, restart, refresh };
}
