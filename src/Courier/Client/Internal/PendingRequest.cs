namespace Courier.Client.Internal;

/// <summary>A request from submission to completion. Owned by the client's loop once submitted.</summary>
internal sealed class PendingRequest(ulong id, string service, byte[] serviceFrame, ReadOnlyMemory<byte>[] body, bool continueInline)
    : TaskCompletionSource<CourierReply>(continueInline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously)
{
    public ulong Id { get; } = id;

    public string Service { get; } = service;

    public byte[] ServiceFrame { get; } = serviceFrame;

    public ReadOnlyMemory<byte>[] Body { get; } = body;

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

    /// <summary>Its Client span, when a listener samples one.</summary>
    public System.Diagnostics.Activity? Activity { get; init; }

    // Fields, not properties: TimeoutList links them in place by reference.
    internal TimeoutLinks AttemptLinks;
    internal TimeoutLinks DeadlineLinks;
}
