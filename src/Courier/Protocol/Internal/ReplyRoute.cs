namespace Courier.Protocol.Internal;

/// <summary>
/// Where and how the reply to one client request goes: the envelope to address it (routing id first), the framing the
/// client used, its request id, and for 7/MDP the service frame to echo. <see cref="ClientReplyWriter"/> encodes by it.
/// </summary>
internal readonly struct ReplyRoute(byte[][] envelope, int envelopeLength, ClientFraming framing, ulong requestId, byte[]? serviceFrame, bool takesHeaders = false, bool largeBatches = false)
{
    /// <summary>The request came in a courier/7 batch: its reply may go in a batch up to <see cref="Batch.LargeMaxFrameLength"/> (docs/protocol.md §6).</summary>
    public bool LargeBatches { get; } = largeBatches;

    /// <summary>The client spoke courier/5: a reply may carry headers (<c>"CURC05"</c>, docs/protocol.md §8).</summary>
    public bool TakesHeaders { get; } = takesHeaders;

    /// <summary>Its first <see cref="EnvelopeLength"/> entries are the envelope; it may be the request's own frames.</summary>
    public byte[][] Envelope { get; } = envelope;

    public int EnvelopeLength { get; } = envelopeLength;

    public ClientFraming Framing { get; } = framing;

    /// <summary>The Courier request id (zero for other framings, or a header too short to hold one).</summary>
    public ulong RequestId { get; } = requestId;

    /// <summary>The 7/MDP service frame, echoed in the reply.</summary>
    public byte[]? ServiceFrame { get; } = serviceFrame;

    public byte[] ClientId => Envelope[0];
}
