namespace Courier.Client.Internal;

/// <summary>A request from submission to completion. Owned by the client's loop once submitted.</summary>
internal sealed class PendingRequest(ulong id, string service, byte[] serviceFrame, ReadOnlyMemory<byte>[] body, bool continueInline)
    : TaskCompletionSource<CourierReply>(continueInline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously)
{
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
    /// Milliseconds the client will still wait for it, as of its current attempt's dispatch (at least 1): sent with
    /// it under courier/5, so that a broker does not dispatch it once nobody waits and its handler is cancelled then.
    /// </summary>
    public uint BudgetMs { get; set; }

    /// <summary>Connections this request has been given to (1 on the first).</summary>
    public int Attempts { get; set; }

    /// <summary>Whether it went out on the current connection (false while waiting for a probe or a free slot).</summary>
    public bool Sent { get; set; }

    public long StartedAt { get; set; }

    /// <summary>Timestamp at which the current attempt gives up.</summary>
    public long AttemptDeadline { get; set; }

    /// <summary>Timestamp of the overall deadline, or long.MaxValue.</summary>
    public long Deadline { get; set; }

    public CancellationTokenRegistration Cancellation { get; set; }

    // Fields, not properties: TimeoutList links them in place by reference.
    internal TimeoutLinks AttemptLinks;
    internal TimeoutLinks DeadlineLinks;
}
