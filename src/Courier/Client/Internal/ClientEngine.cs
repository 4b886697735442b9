using Courier.Diagnostics.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Client.Internal;

/// <summary>
/// A client's loop-side logic between its <see cref="RequestTable"/> (requests, their timeouts) and its
/// <see cref="ConnectionPool"/> (connections, one per endpoint): replies complete requests; each request times out and
/// is sent again on its own, with the same id; a refusal (503: the handler never ran) is retried on another connection;
/// a connection is replaced only when judged dead by its own signals (an unanswered probe), and then what it held is
/// moved, or failed when it may have run and is not idempotent. Loop thread only.
/// </summary>
internal sealed class ClientEngine : IClientConnectionOwner, IGaugeSource, IDisposable
{
    // Liveness probes take ids no request uses (requests count up from 1): the top bit set.
    private const ulong ProbeIdBase = 1UL << 63;

    private readonly CourierClientOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly RequestTable _table = new();
    private readonly ConnectionPool _pool;
    private readonly ClientReplies _replies;
    private readonly RefusedRequests _refused = new();
    private readonly RefusedSends _refusedSends;
    private readonly Courier.Internal.ViolationLog _violations;
    private readonly int _refusalsPerAttempt;
    private ulong _nextProbeId = ProbeIdBase;
    private bool _closed;
    private readonly ITransportLoop _loop;

    // Callers answered this turn whose continuations run on the thread pool; at most this many, the loop expects posts.
    private const int MaxCompletedForSpin = 2;
    private int _completedOnPool;

    public ClientEngine(CourierClientOptions options, ITransportLoop loop, ILogger logger)
    {
        Identity = ClientIdentity.NewRandom();
        _options = options;
        _loop = loop;
        _clock = options.TimeProvider;
        _logger = logger;
        TimeoutTicks = Ticks(options.Timeout);
        _refusalsPerAttempt = options.ConnectEndpoints.Count + 2;
        _pool = new ConnectionPool(options, loop, this, logger);
        _violations = new Courier.Internal.ViolationLog(logger, "Client", TelemetryRole.Client, options.Transport, _clock);
        _replies = new ClientReplies(this, _table, options.LendLargeReplies, logger, _violations);
        _refusedSends = new RefusedSends(logger, options.Transport.SendHighWatermark, _clock.TimestampFrequency);
    }

    /// <summary>This client's identity under courier/5: the same on every connection, so that retries are known as such.</summary>
    public ClientIdentity Identity { get; }

    /// <summary>The engine's clock, in its timestamp units.</summary>
    public long Now => _clock.GetTimestamp();

    /// <summary>An attempt's time (<see cref="CourierClientOptions.Timeout"/>) in <see cref="Now"/>'s units; a probe gets as long.</summary>
    public long TimeoutTicks { get; }

    /// <summary>Takes a request the caller made: sent now if a connection has room. <paramref name="now"/>: the loop's current timestamp.</summary>
    public void Submit(PendingRequest request, long now)
    {
        if (request.Task.IsCompleted)
        {
            ClientTelemetry.Cancelled(request, _logger);
            return; // cancelled before the loop saw it
        }

        if (_closed)
        {
            request.TrySetException(new CourierClosedException("The client was disposed."));
            return;
        }

        request.StartedAt = now;
        request.Deadline = (request.DeadlineOverride ?? _options.Deadline) is { } deadline ? now + Ticks(deadline) : long.MaxValue;
        request.Attempts = 1;
        _table.Add(request);
        Dispatch(request, avoid: null, now);
    }

    /// <summary>A request the caller cancelled: forget it; in plain mode its reply would be mistaken for the next one's.</summary>
    public void Forget(PendingRequest request)
    {
        var connection = request.Connection;
        var plain = connection is not null && ReferenceEquals(connection.PlainOutstanding, request);
        if (!_table.Remove(request))
        {
            return;
        }

        ClientTelemetry.Cancelled(request, _logger);
        SendCancel(request, connection);

        if (plain)
        {
            _pool.Close(connection!); // it holds nothing else: plain 7/MDP has one request out at a time
        }

        SendWaiting(_clock.GetTimestamp());
    }

    /// <summary>
    /// Tells the peer that holds <paramref name="request"/> (sent on <paramref name="connection"/>, by default its current
    /// one), and those of its earlier attempts that may still run it, that its caller gave up (courier/5 CANCEL, docs/protocol.md §8): a broker drops it from its queue or tells the
    /// worker, and the handler's token fires. Nothing is sent to a peer before courier/5, or for a request not sent.
    /// </summary>
    public void SendCancel(PendingRequest request, ClientConnection? connection = null)
    {
        var holder = connection ?? request.Connection;
        holder?.SendCancel(request.Id);
        if (request.EarlierConnections is not { } earlierOnes)
        {
            return;
        }

        var sent = new List<ClientConnection>(earlierOnes.Count + 1);
        if (holder is not null)
        {
            sent.Add(holder);
        }

        foreach (var earlier in earlierOnes)
        {
            // A CANCEL names the request by client identity and id, not by connection: one closed since goes by the
            // connection now open to the same endpoint, which holds it while it negotiates and sends it if the peer
            // speaks courier/5 (otherwise nothing is sent).
            var to = earlier.IsClosed ? _pool.Current(earlier) : earlier;
            if (to is not null && !sent.Contains(to))
            {
                sent.Add(to);
                to.SendCancel(request.Id);
            }
        }
    }

    /// <summary>Fails every outstanding request with <see cref="CourierClosedException"/>, closes the connections and takes no more.</summary>
    public void Dispose()
    {
        FailAllClosed();
        _pool.Dispose();
    }

    /// <summary>
    /// The loop's stop hook: the client's disposal waits a while for <see cref="Dispose"/> to run on the loop, then stops
    /// the loop anyway, and a loop busy all that while (an inline continuation that blocks, a long pause) never ran it.
    /// What is still outstanding then fails here, so that no call waits forever. Its sockets are closed already.
    /// </summary>
    public void OnLoopStopped() => FailAllClosed();

    private void FailAllClosed()
    {
        _closed = true;
        var error = new CourierClosedException("The client was disposed before the reply arrived.");
        foreach (var request in _table.Clear())
        {
            request.Cancellation.Dispose();
            ClientTelemetry.Completed(request, _clock, error, _logger); // a listener's exception is caught there
            request.TrySetException(error);
        }
    }

    public void SendRefused(ClientConnection connection, int requests) => _refusedSends.Add(connection.Endpoint, requests);

    public bool OnMessage(ClientConnection connection, MessageFrames message)
    {
        connection.HeardFrom(); // any message proves the peer alive
        _replies.OnMessage(connection, message);

        // No reply awaited: asking for more would cost a system call that the check before the loop next blocks makes
        // anyway (this socket was used), and that the next request's send would undo.
        return connection.SentCount > 0;
    }

    /// <summary>A connection's probe was answered: requests waiting for it may go.</summary>
    public void Negotiated() => SendWaiting(_clock.GetTimestamp());

    /// <summary>The loop's end of turn: the requests packed this turn leave.</summary>
    public void OnTurnEnd()
    {
        _pool.FlushAll();
        // A turn that answered a caller or two whose continuations run on the thread pool, and left nothing in flight: a
        // sequential caller asks again within microseconds, and the loop catching that awake saves a wake-up each way.
        // Not with requests still out (the look watches no socket, so a reply would wait for it), nor after busier turns
        // (their callers' next requests come anyway, and a spin would take a core the rest of the machine may need).
        if (_completedOnPool is > 0 and <= MaxCompletedForSpin && _table.Count == 0)
        {
            _loop.ExpectPostSoon();
        }

        _completedOnPool = 0;
    }

    /// <summary>
    /// Fails requests past their deadline or out of attempts, sends expired attempts again, and replaces connections
    /// whose probe (negotiation or liveness) went unanswered.
    /// </summary>
    public void OnTick()
    {
        var now = _clock.GetTimestamp();
        _refusedSends.Report(now);
        _violations.OnTick();
        while (_table.Deadlines.First is { } late && _table.Deadlines.DueOf(late) <= now)
        {
            Fail(late, TimedOut(late, now));
        }

        while (_table.AttemptTimeouts.First is { } expired && _table.AttemptTimeouts.DueOf(expired) <= now)
        {
            OnAttemptExpired(expired, now);
        }

        foreach (var connection in _pool.All.ToArray())
        {
            if (now >= connection.Negotiation.ProbeDeadline)
            {
                Lost(connection, "no answer to the protocol probe", now);
            }
            else if (now >= connection.ProbeDeadline)
            {
                Lost(connection, "no answer to the liveness probe", now);
            }
        }

        RetryRefused(now);
        _pool.CloseIdleRetiring();
        SendWaiting(now);
    }

    /// <summary>
    /// One request's attempt expired: only it is sent again, with the same id. Its connection is asked whether it is
    /// alive; a slow handler is not a dead connection, and the other requests on it are left alone.
    /// </summary>
    private void OnAttemptExpired(PendingRequest request, long now)
    {
        _table.AttemptTimeouts.Remove(request);
        if (request.Attempts >= _options.MaxAttempts || now >= request.Deadline)
        {
            Fail(request, request.LastRefusal ?? TimedOut(request, now));
            return;
        }

        request.Attempts++;
        ClientTelemetry.Retried(request, _logger);
        if (request.Connection is not { } connection)
        {
            Arm(request, now); // still waiting for a connection that can take it
            return;
        }

        if (connection.Negotiation.Mode == PeerMode.Plain)
        {
            // Plain 7/MDP: one request out at a time and no probe beside it, so the Lazy Pirate way: a fresh connection.
            RequestTable.Detach(request);
            _pool.Close(connection);
            Dispatch(request, avoid: null, now);
            return;
        }

        var hold = !request.Idempotent && connection.PeerIncarnation is not null;
        connection.Probe(_nextProbeId++, now + TimeoutTicks, fresh: hold);
        if (request.Idempotent && _pool.HasOtherThan(connection))
        {
            // The first run may go on there: a cancel must reach it too.
            request.EarlierConnections ??= [];
            if (!request.EarlierConnections.Contains(connection))
            {
                request.EarlierConnections.Add(connection);
            }

            RequestTable.Detach(request);
            Dispatch(request, avoid: connection, now);
        }
        else
        {
            // The same peer: one that remembers the request joins this attempt to the one in progress. If it may have
            // restarted meanwhile (libzmq redials by itself), an at-most-once request waits for the probe's answer: a new
            // incarnation would run it again.
            Arm(request, now);
            if (hold)
            {
                connection.HoldForProbe(request);
            }
            else
            {
                connection.Send(request);
            }
        }
    }

    /// <summary>Whether <paramref name="id"/> is a liveness probe's (the top bit set), not a request's.</summary>
    public static bool IsProbeId(ulong id) => id >= ProbeIdBase;

    /// <summary>
    /// The answer to liveness probe <paramref name="probeId"/>, naming the peer's incarnation (null from a peer that
    /// names none). The same peer: what waited for a probe sent at or after it was held is sent again (an answer to an
    /// older probe may have crossed a redial). Another (it restarted, or the redialled connection reached another behind
    /// a proxy): it has no memory of what went out before that probe, so of those requests each at-most-once one that
    /// may have run fails with <see cref="CourierOutcomeUnknownException"/> and each idempotent one is sent again; what
    /// went out after the probe reached the new peer and is left to it. The connection is retired: it takes nothing new,
    /// and a fresh one negotiates with whatever now answers.
    /// </summary>
    public void ProbeAnswered(ClientConnection connection, ulong probeId, ulong? incarnation)
    {
        var now = _clock.GetTimestamp();
        if (!connection.IncarnationKnown)
        {
            // Connected without asking (ClientProtocol.Courier): the first the connection hears of its peer, not a change.
            connection.PeerIncarnation = incarnation;
            connection.IncarnationKnown = true;
        }

        // One that names none where one was named, or the reverse, is another peer too (an older or newer version).
        if (incarnation != connection.PeerIncarnation)
        {
            connection.PeerIncarnation = incarnation;
            connection.TakeHeld(probeId: ulong.MaxValue);
            var before = _table.On(connection).Where(r => r.SentAfterProbe < probeId).ToArray();
            ClientLog.PeerRestarted(_logger, connection.Endpoint, before.Length);
            _pool.Retire(connection);
            BoundRetiring(connection, now);
            foreach (var request in before)
            {
                RequestTable.Detach(request);
                if (request.MayHaveRun && !request.Idempotent)
                {
                    Fail(request, OutcomeUnknown(request, connection, "the peer restarted (or the redialled connection reached another) while it held the request"));
                }
                else
                {
                    Dispatch(request, avoid: connection, now);
                }
            }

            return;
        }

        foreach (var request in connection.TakeHeld(probeId) ?? [])
        {
            // Still this connection's, unanswered: not answered meanwhile, moved or given up.
            if (ReferenceEquals(request.Connection, connection) && _table.TryGet(request.Id, out var pending) && ReferenceEquals(pending, request))
            {
                if (incarnation is not null && connection.Negotiation.PeerDelivery && !IncarnationHeader.Fits(request.Headers))
                {
                    // Sent again without naming the incarnation, a redial meanwhile could run it twice: not sent unchecked.
                    RequestTable.Detach(request);
                    Fail(request, new CourierOutcomeUnknownException(
                        request.Service,
                        $"its attempt on {connection.Endpoint} went unanswered, and its headers leave no room to name the peer's incarnation (courier-incarnation), so it is not sent again unchecked: it ran once or not at all"));
                    continue;
                }

                request.ExpectedIncarnation = incarnation;
                connection.Send(request);
            }
        }
    }

    /// <summary>
    /// <paramref name="connection"/> is dead: closed, and each request on it sent elsewhere, unless it may have run and is
    /// not idempotent: then nobody can say whether it ran, and it fails.
    /// </summary>
    private void Lost(ClientConnection connection, string reason, long now)
    {
        var held = _table.On(connection);
        ClientLog.ConnectionLost(_logger, connection.Endpoint, reason, held.Length);
        _pool.Close(connection);
        foreach (var request in held)
        {
            RequestTable.Detach(request);
            if (request.MayHaveRun && !request.Idempotent)
            {
                Fail(request, OutcomeUnknown(request, connection, reason));
            }
            else
            {
                Dispatch(request, avoid: null, now);
            }
        }
    }

    /// <summary>
    /// Past <see cref="ConnectionPool.MaxRetiring"/> retiring connections of <paramref name="retired"/>'s endpoint, its
    /// oldest is given up as lost: what it holds goes elsewhere, or fails when it may have run and is not idempotent, as
    /// for a connection that died.
    /// </summary>
    private void BoundRetiring(ClientConnection retired, long now)
    {
        if (_pool.RetiringOf(retired.Slot) > ConnectionPool.MaxRetiring)
        {
            _pool.CloseIdleRetiring(); // those that hold nothing any more go first, as at the next tick
        }

        while (_pool.RetiringOf(retired.Slot) > ConnectionPool.MaxRetiring && _pool.OldestRetiringOf(retired.Slot) is { } oldest)
        {
            Lost(oldest, $"more than {ConnectionPool.MaxRetiring} connections to its endpoint were retiring, and this one is the oldest", now);
        }
    }

    /// <summary>
    /// A 503 to the current attempt: the handler never ran, so the request may go anywhere. The connection that refused
    /// is retired (a stopping server refuses all it gets; behind a TCP proxy a fresh connection reaches another server),
    /// and the request goes elsewhere at the next tick. A few refusals (one per endpoint, and two more) fit in one
    /// attempt: a rolling restart, where a proxy may place the fresh connection on the stopping server once more, costs
    /// no attempt, only a tick per refusal. More use the attempt up, and the last attempt's refusal is the answer.
    /// </summary>
    private void OnRefused(ClientConnection connection, PendingRequest request, Exception error)
    {
        // An earlier run there may still answer (a peer before courier/5 runs a resend again, and may refuse that one as
        // it starts stopping): its reply, coming on that connection, is still the request's.
        request.EarlierConnections ??= [];
        if (!request.EarlierConnections.Contains(connection))
        {
            request.EarlierConnections.Add(connection);
        }

        RequestTable.Detach(request);
        request.MayHaveRun = false;
        request.LastRefusal = error;
        request.RefusedBy = connection;
        request.RetryAt = _clock.GetTimestamp() + RefusedRequests.Backoff(++request.Refusals, _clock.TimestampFrequency);
        // Retired for the chance of another server behind a proxy; with as many of its endpoint's retiring as are kept, it
        // stays current instead, put aside for the request's backoff: giving up the oldest would fail (or run twice) what
        // a live server took on it, for a refusal that only said the server is busy (a steady overload retires a
        // connection a refusal, each holding what the server queued on it).
        if (_pool.HasRoomToRetire(connection))
        {
            _pool.RetireRefused(connection, _clock.GetTimestamp());
        }
        else
        {
            connection.RefusedUntil = Math.Max(connection.RefusedUntil, request.RetryAt);
        }

        if (++request.RefusalsThisAttempt > _refusalsPerAttempt)
        {
            if (request.Attempts >= _options.MaxAttempts)
            {
                Fail(request, error);
                return;
            }

            request.Attempts++;
            ClientTelemetry.Retried(request, _logger);
            Arm(request, _clock.GetTimestamp());
        }

        _refused.Add(request);
    }

    /// <summary>Gives the refused requests whose backoff is over to the connections that can take them now (without a new attempt).</summary>
    private void RetryRefused(long now)
    {
        foreach (var request in _refused.Due(_table, now) ?? [])
        {
            // Elsewhere than where it was last refused, if any other connection can take it.
            Place(request, avoid: request.RefusedBy, now);
        }
    }

    /// <summary>Gives <paramref name="request"/> a new attempt: on the least loaded connection that can take it now, else it waits.</summary>
    private void Dispatch(PendingRequest request, ClientConnection? avoid, long now)
    {
        Arm(request, now);
        Place(request, avoid, now);
    }

    /// <summary>Sends <paramref name="request"/> on the least loaded connection that can take it now, or queues it.</summary>
    private void Place(PendingRequest request, ClientConnection? avoid, long now)
    {
        if (_pool.Pick(avoid, now, out var error) is { } connection)
        {
            connection.Send(request);
        }
        else if (error is not null)
        {
            Fail(request, error);
        }
        else
        {
            _table.Wait(request);
        }
    }

    private void Arm(PendingRequest request, long now)
    {
        request.AttemptDeadline = now + TimeoutTicks;
        request.BudgetMs = Budget(request, now);
        request.RefusalsThisAttempt = 0;
        _table.AttemptTimeouts.AddLast(request);
    }

    private void SendWaiting(long now)
    {
        while (_table.HasWaiting && _pool.Pick(null, now, out _) is { } connection && _table.TryTakeWaiting(out var next))
        {
            connection.Send(next);
        }
    }

    /// <summary>
    /// An error status: a refusal of the current attempt is retried elsewhere; anything else is the answer.
    /// <paramref name="refusedAttempt"/> is the attempt a refusal names (<c>courier-attempt</c>), 0 when it names none.
    /// </summary>
    public void Failed(ClientConnection connection, PendingRequest request, int status, string message, byte refusedAttempt = 0)
    {
        var error = Error(connection, request, status, message);
        if (status != CourierStatus.Unavailable)
        {
            connection.HasAnswered = true;
            Fail(request, error);
        }
        else if (ReferenceEquals(request.Connection, connection))
        {
            if (refusedAttempt != 0 && connection.Negotiation.PeerDelivery
                && (refusedAttempt < request.TakenAttempt || SaidTheSameAttempt(request, refusedAttempt)))
            {
                // The refusal of a copy sent before the one now out here, named by the peer: that later copy may still run
                // there (the earlier was refused just before it came), and gets its own answer, or its own refusal.
            }
            else if (request.TakenHere > 1 && !request.Idempotent && !connection.Negotiation.PeerDelivery)
            {
                // Sent again to a peer before courier/5, which runs and answers each copy, and a reply names no attempt:
                // the refusal may be the earlier copy's while the later may still run. Going elsewhere too could run it
                // twice; it waits for the next answer here (or its attempt's timeout) instead. From courier/5 on a repeat
                // joins the run in progress, and one reply answers both copies.
                request.TakenHere--;
            }
            else
            {
                OnRefused(connection, request, error);
            }
        }

        // else: an earlier attempt's refusal; the current one, elsewhere, still counts
    }

    /// <summary>
    /// Whether a refusal naming <paramref name="refusedAttempt"/> cannot be told from one of an earlier copy: an attempt
    /// is a byte on the wire, and a copy past the 255th says 255 as the one before it there did.
    /// </summary>
    internal static bool SaidTheSameAttempt(PendingRequest request, byte refusedAttempt)
        => refusedAttempt == byte.MaxValue && request.TakenAttempt == byte.MaxValue && request.Attempts > byte.MaxValue && request.TakenHere > 1;

    private Exception Error(ClientConnection connection, PendingRequest request, int status, string message) => status switch
    {
        < 0 => new CourierProtocolException($"Reply from {connection.Endpoint} to '{request.Service}' has no valid status."),
        CourierStatus.OutcomeUnknown => new CourierOutcomeUnknownException(request.Service, message),

        // The broker found the request's budget spent before dispatching it: the client's own deadline has come.
        CourierStatus.DeadlineExceeded => TimedOut(request, _clock.GetTimestamp()),
        _ => new CourierRemoteException(request.Service, status, message),
    };

    /// <summary>
    /// How long the client will still wait for <paramref name="request"/> from <paramref name="now"/>, the start of an
    /// attempt: its remaining attempts at <see cref="CourierClientOptions.Timeout"/> each, or its deadline if sooner.
    /// </summary>
    private uint Budget(PendingRequest request, long now)
    {
        // In floating point: a century-long timeout times its attempts, or no deadline at all, is past a long.
        var remaining = Math.Min((double)TimeoutTicks * Math.Max(1, _options.MaxAttempts - request.Attempts + 1), request.Deadline - (double)now);
        var ms = remaining * 1000 / _clock.TimestampFrequency;
        return (uint)Math.Clamp(ms, 1, uint.MaxValue);
    }

    private CourierTimeoutException TimedOut(PendingRequest request, long now)
        => new(request.Service, request.Attempts, _clock.GetElapsedTime(request.StartedAt, now));

    /// <summary>The request went out on a connection now dead and is not idempotent: whether it ran is unknown.</summary>
    private static CourierOutcomeUnknownException OutcomeUnknown(PendingRequest request, ClientConnection connection, string reason)
        => new(request.Service, $"the connection to {connection.Endpoint} was judged dead ({reason}) while it held the request, and it is not idempotent: it ran once or not at all");

    /// <summary>The answer to <paramref name="request"/>, received on <paramref name="connection"/>.</summary>
    public void Complete(ClientConnection connection, PendingRequest request, CourierReply reply)
    {
        connection.HasAnswered = true;
        try
        {
            Remove(request);
            ClientTelemetry.Completed(request, _clock, null, _logger);
        }
        finally
        {
            // Out of the table, the call ends here, whatever went wrong on the way.
            if (!request.TrySetResult(reply))
            {
                reply.Dispose(); // the caller gave up first: what it would have been lent goes back now
            }
            else if (!_options.RunContinuationsInline)
            {
                _completedOnPool++;
            }
        }
    }

    public void Fail(PendingRequest request, Exception error)
    {
        // Plain 7/MDP matches a reply to the one request out on its connection: a request that fails while out there
        // leaves its reply to come, which would answer the next request sent on it. The connection goes with it.
        if (request.Connection is { } connection && ReferenceEquals(connection.PlainOutstanding, request))
        {
            RequestTable.Detach(request);
            _pool.Close(connection);
        }

        try
        {
            Remove(request);
            ClientTelemetry.Completed(request, _clock, error, _logger);
        }
        finally
        {
            request.TrySetException(error); // as in Complete
        }
    }

    /// <summary>Requests not yet completed: read off the loop by a metrics collection (a count, torn reads impossible).</summary>
    void IGaugeSource.Read(GaugeReadings readings) => readings.Add(Gauge.ClientActive, _table.Count);

    private void Remove(PendingRequest request)
    {
        _table.Remove(request);
        request.Cancellation.Dispose();
        if (_table.HasWaiting)
        {
            SendWaiting(_clock.GetTimestamp());
        }
    }

    /// <summary>
    /// <paramref name="span"/> in timestamp units, at most a century: "forever" for a request, and small enough that a
    /// timestamp plus it, or a few attempts of it, never overflows (TimeSpan.MaxValue would, and every deadline computed
    /// from it would lie in the past).
    /// </summary>
    internal static long Ticks(TimeSpan span, long frequency) => (long)(Math.Min(span.TotalSeconds, MaxSpanSeconds) * frequency);

    private long Ticks(TimeSpan span) => Ticks(span, _clock.TimestampFrequency);

    private const double MaxSpanSeconds = 100 * 365.25 * 24 * 3600;
}
