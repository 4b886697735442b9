namespace Courier.Client.Internal;

/// <summary>A request from submission to completion. Owned by the client's loop once submitted.</summary>
internal sealed class PendingRequest(ulong id, string service, byte[] serviceFrame, ReadOnlyMemory<byte>[] body, bool continueInline)
    : TaskCompletionSource<CourierReply>(continueInline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously)
{
    /// <summary>The request's identity across all its attempts: every resend carries the same id.</summary>
    public ulong Id { get; } = id;

    public string Service { get; } = service;

    public byte[] ServiceFrame { get; } = serviceFrame;

    public ReadOnlyMemory<byte>[] Body { get; } = body;

    /// <summary>Its encoded headers (courier/5); empty for none.</summary>
    public byte[] Headers { get; init; } = [];

    /// <summary>Its courier/5 flags (idempotent).</summary>
    public Protocol.Internal.DeliveryFlags Flags { get; init; }

    /// <summary>Its own overall deadline, instead of the client's; null keeps the client's.</summary>
    public TimeSpan? DeadlineOverride { get; init; }

    /// <summary>
    /// Milliseconds the client will still wait for it, as of its current attempt's start (at least 1): sent with it
    /// under courier/5, so that a broker does not dispatch it once nobody waits and its handler is cancelled then.
    /// </summary>
    public uint BudgetMs { get; set; }

    /// <summary>
    /// Whether its caller declared running it twice harmless (<see cref="CourierRequestOptions.Idempotent"/>, sent in
    /// <see cref="Flags"/>): only then is a request that went out on a connection later judged dead sent again elsewhere
    /// (otherwise it fails with <see cref="CourierOutcomeUnknownException"/>), and a timed-out attempt sent to another
    /// connection rather than to the same peer, which joins the repeat to the run in progress.
    /// </summary>
    public bool Idempotent => (Flags & Protocol.Internal.DeliveryFlags.Idempotent) != 0;

    /// <summary>Attempts made so far (1 on the first); a resend, a refusal retried elsewhere or an expiry while waiting uses one.</summary>
    public int Attempts { get; set; }

    /// <summary>
    /// Connections of earlier attempts that may still be running it: an idempotent request moved to another connection
    /// after a timeout. A cancel goes to them too, so that every run's token fires. Null until a move (rare).
    /// </summary>
    public List<ClientConnection>? EarlierConnections { get; set; }

    /// <summary>
    /// Whether a reply that came on <paramref name="connection"/> can be this request's: its current attempt, or an
    /// earlier one that may still run, went out there. Ids count up, so any peer could name one sent elsewhere.
    /// </summary>
    public bool WentOutOn(ClientConnection connection)
        => ReferenceEquals(Connection, connection) || (EarlierConnections?.Contains(connection) ?? false);

    /// <summary>Whether its connection holds it for a probe's answer (<see cref="ClientConnection.HoldForProbe"/>).</summary>
    public bool Held { get; set; }

    /// <summary>The peer incarnation its next courier/5 send names (<see cref="Protocol.Internal.IncarnationHeader"/>): set for a resend that waited for a probe's answer.</summary>
    public ulong? ExpectedIncarnation { get; set; }

    /// <summary>
    /// The refusal (503) of its last try, while it has not been sent anywhere since: what the caller gets if its
    /// attempts run out before another peer takes it.
    /// </summary>
    public Exception? LastRefusal { get; set; }

    /// <summary>The connection of the last refusal, which its retry avoids while another can take it.</summary>
    public ClientConnection? RefusedBy { get; set; }

    /// <summary>Refusals during its current attempt (a few are retried within it; more use it up).</summary>
    public int RefusalsThisAttempt { get; set; }

    /// <summary>Refusals over all its attempts: each waits twice as long as the one before before it is tried again.</summary>
    public int Refusals { get; set; }

    /// <summary>Timestamp before which a refused request is not tried again (<see cref="Refusals"/>).</summary>
    public long RetryAt { get; set; }

    /// <summary>The connection its current attempt went out on; null while it waits for one (a probe, a free slot).</summary>
    public ClientConnection? Connection { get; set; }

    /// <summary>
    /// Whether a handler may have run it: true once the transport took a message of it (a send refused at the queue's
    /// high-water mark, or packed on a connection that died before its end of turn, never left), false again when a peer
    /// refused it (503: its handler never ran). A request no handler can have run may go anywhere without risk.
    /// </summary>
    public bool MayHaveRun { get; set; }

    /// <summary>
    /// The connection whose batch of this turn holds it, not yet sent (<see cref="ClientConnection.Flush"/>); null
    /// otherwise. Detached before that, it is taken out again: it must not leave on a connection it no longer belongs to.
    /// </summary>
    public ClientConnection? PackedOn { get; set; }

    /// <summary>Its place among the requests <see cref="PackedOn"/> packed this turn (the record's index in the batch).</summary>
    public int PackedAt { get; set; }

    /// <summary>The attempt its record in <see cref="PackedOn"/>'s batch says it is: what leaves at the flush.</summary>
    public byte PackedAttempt { get; set; }

    /// <summary>
    /// Messages of it the transport took on <see cref="Connection"/> since it went there: more than one after a resend
    /// to the same peer. A reply before courier/5 names no attempt, so a 503 then may be the earlier send's while the
    /// later may still run.
    /// </summary>
    public int TakenHere { get; set; }

    /// <summary>
    /// The attempt of the newest copy the transport took on <see cref="Connection"/> (0: none yet): a 503 naming an
    /// earlier one (<c>courier-attempt</c>) is that copy's, while this one may still run there.
    /// </summary>
    public byte TakenAttempt { get; set; }

    /// <summary>The last liveness probe its connection had sent when it was last sent (0: none): what reached the peer that answered a later probe.</summary>
    public ulong SentAfterProbe { get; set; }

    public long StartedAt { get; set; }

    /// <summary>Timestamp at which the current attempt gives up.</summary>
    public long AttemptDeadline { get; set; }

    /// <summary>Timestamp of the overall deadline, or long.MaxValue.</summary>
    public long Deadline { get; set; }

    public CancellationTokenRegistration Cancellation { get; set; }

    /// <summary>Its Client span, when a listener samples one.</summary>
    public System.Diagnostics.Activity? Activity { get; init; }

    // Fields, not properties: TimeoutList links them in place by reference.
    internal TimeoutLinks AttemptLinks;
    internal TimeoutLinks DeadlineLinks;
}
