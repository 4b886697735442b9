namespace Courier.Protocol.Internal;

/// <summary>
/// What a worker's READY said of it: the Courier version of its capability frame (0 for a stock 7/MDP worker), the
/// requests of that service it takes at once, and its name (courier/4).
/// </summary>
internal readonly record struct WorkerCapability(int Version, int Capacity, string? Name, bool Idempotent = false)
{
    public static WorkerCapability None => new(0, 1, null);

    /// <summary>Speaks courier/5: REQUESTs carry budget and headers, REPLYs may carry headers, CANCEL.</summary>
    public bool Delivery => Version >= 5;

    /// <summary>Speaks Courier: REQUEST and REPLY in the one-frame header, replies with a status.</summary>
    public bool Courier => Version >= 2;

    /// <summary>Takes REQUEST batches and may send REPLY batches (docs/protocol.md §6).</summary>
    public bool Batches => Version >= 3;

    /// <summary>May register further services on the same connection; its REQUESTs name their service.</summary>
    public bool MultiService => Version >= 4;

    /// <summary>Its DISCONNECT may say "drained": it answered all it took, so what it still holds never ran (courier/6).</summary>
    public bool SaysDrained => Version >= 6;

    /// <summary>Takes and sends batches of up to <see cref="Batch.LargeMaxFrameLength"/> (courier/7).</summary>
    public bool LargeBatches => Version >= 7;
}
