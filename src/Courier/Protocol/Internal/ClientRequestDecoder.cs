namespace Courier.Protocol.Internal;

/// <summary>
/// Decodes what a ROUTER socket receives from clients (REQ, 7/MDP, Courier, Courier batches; docs/protocol.md) into
/// <see cref="InboundRequest"/>s. Only decoding: what to do with a request is the front end's business.
/// </summary>
internal static class ClientRequestDecoder
{
    /// <summary>Envelopes deeper than this are treated as garbage rather than routing.</summary>
    public const int MaxEnvelopeFrames = 16;

    /// <summary>The longest routing id ZeroMQ gives a peer (ZMQ_ROUTING_ID): a longer envelope frame is not routing.</summary>
    public const int MaxEnvelopeFrameLength = 255;

    /// <summary>
    /// Each reply to a batch's record repeats the batch's envelope: together those copies may come to at most this many
    /// times the batch message's own size, or the batch is dropped (a large envelope before many tiny records would
    /// otherwise make a small request cost a thousand times its size in replies).
    /// </summary>
    public const int MaxEnvelopeAmplification = 4;

    // The last service name decoded on this thread (a loop's): most traffic asks one service, so most requests
    // are answered from here instead of validating and decoding the same bytes into a new string.
    [ThreadStatic]
    private static byte[]? t_lastServiceBytes;

    [ThreadStatic]
    private static string? t_lastService;

    /// <summary>True for a client's batch of requests: <c>envelope…, "", "CURB03"+0x01+records</c>.</summary>
    public static bool IsBatch(Transport.Internal.MessageFrames message)
        => DelimiterBeforeLast(message)
            && (Batch.Is(message[message.Count - 1], Batch.ClientRequest) || Batch.Is(message[message.Count - 1], Batch.ClientRequest5));

    /// <summary>
    /// The kind of a client's message that is a batch frame of a kind no client sends (<see cref="IsBatch"/> is false), or
    /// null: answered 400 rather than read as a plain request's body, so that a newer kind never runs the default service.
    /// </summary>
    public static byte? UnknownBatchKind(Transport.Internal.MessageFrames message)
        => DelimiterBeforeLast(message) && message[message.Count - 1] is { Length: >= Batch.PrefixLength } frame
            && frame.StartsWith(Batch.Header) ? frame[6] : null;

    /// <summary>
    /// True when the envelope's delimiter (its first empty frame after the routing id) is the second-to-last frame, so
    /// that the last is all there is after it: a 7/MDP request or a plain body whose own frames end in an empty one
    /// and a "CURB03…" frame is not a batch.
    /// </summary>
    private static bool DelimiterBeforeLast(Transport.Internal.MessageFrames message)
    {
        if (message.Count < 3 || message.Length(message.Count - 2) != 0)
        {
            return false;
        }

        for (var i = 1; i < message.Count - 2; i++)
        {
            if (message.Length(i) == 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// True for a courier/5 CANCEL: <c>envelope…, "", "CURC05"+0x03+id+client</c>, the envelope's delimiter right before
    /// the last frame (as for a batch): a stock REQ client's body whose own frames end in an empty one and such a frame
    /// is a request to answer, not a CANCEL to answer with silence.
    /// </summary>
    public static bool IsCancel(Transport.Internal.MessageFrames message)
        => message.Count >= 3 && message.Length(message.Count - 1) == CourierFrame5.CancelLength && DelimiterBeforeLast(message)
            && CourierFrame5.Is(message[message.Count - 1], CourierFrame5.Cancel);

    /// <summary>
    /// Why a batch message (<see cref="IsBatch"/>) of <paramref name="records"/> records cannot be served, or null: an
    /// envelope too deep, a frame of it too long to be a routing id, or an envelope whose copies in the records' replies
    /// would exceed <see cref="MaxEnvelopeAmplification"/> times the message.
    /// </summary>
    public static string? BatchEnvelopeProblem(Transport.Internal.MessageFrames message, int records)
    {
        var envelopeFrames = message.Count - 2; // routing id and envelope, before the delimiter and the batch
        if (envelopeFrames > MaxEnvelopeFrames)
        {
            return $"an envelope of {envelopeFrames} frames (at most {MaxEnvelopeFrames})";
        }

        long envelope = 0;
        for (var i = 1; i < envelopeFrames; i++)
        {
            if (message.Length(i) > MaxEnvelopeFrameLength)
            {
                return $"an envelope frame of {message.Length(i)} bytes (a routing id has at most {MaxEnvelopeFrameLength})";
            }

            envelope += message.Length(i);
        }

        // The routing id frame never travels: what the peer sent is the envelope, the delimiter and the batch frame.
        var size = envelope + message.Length(message.Count - 1);
        return records * envelope > MaxEnvelopeAmplification * size
            ? $"{records} records behind an envelope of {envelope} bytes: their replies would repeat it {records} times"
            : null;
    }

    /// <summary>Decodes and validates a service name, from a one-entry per-thread cache when it is the last one seen.</summary>
    public static string? ServiceName(ReadOnlySpan<byte> frame)
    {
        if (t_lastServiceBytes is { } last && frame.SequenceEqual(last))
        {
            return t_lastService;
        }

        var name = Mdp.DecodeServiceName(frame);
        if (name is not null)
        {
            t_lastServiceBytes = frame.ToArray();
            t_lastService = name;
        }

        return name;
    }

    /// <summary>
    /// A courier/5 request (docs/protocol.md §8): <c>"CURC05"+0x01+id+client+attempt+flags+budget+service length+service+headers</c>,
    /// checked here once: a frame cut short, an invalid service name or headers that break the rules are answered 400.
    /// </summary>
    private static void DecodeCourier5(byte[][] frames, InboundRequest request, int delimiter, int header)
    {
        var ok = CourierFrame5.TryReadRequest(frames[header], out var id, out var delivery, out var serviceBytes);
        var name = ok ? ServiceName(serviceBytes.Span) : null;
        var error = !ok ? "malformed courier/5 header (cut short)"
            : name is null ? Batch.InvalidServiceName
            : delivery.Client.IsNone ? "courier/5 request without a client identity"
            : HeaderBlock.Check(delivery.Headers.Span);
        request.Set(frames, new ReplyRoute(frames, delimiter, ClientFraming.Courier, id, null, takesHeaders: true), error is null ? name : null, header + 1, error, delivery);
    }

    /// <summary>
    /// Decodes a record of a courier/5 batch: its meta holds attempt, flags, budget, then headers. Null when it is well
    /// formed, else why not (answered 400).
    /// </summary>
    public static string? DecodeMeta(ReadOnlyMemory<byte> meta, ClientIdentity client, out Delivery delivery)
    {
        delivery = default;
        if (meta.Length < Delivery.FixedLength)
        {
            return "malformed courier/5 record (meta cut short)";
        }

        var span = meta.Span;
        delivery = new Delivery(client, span[0], (DeliveryFlags)span[1], System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(span[2..]), meta[Delivery.FixedLength..]);
        return client.IsNone ? "courier/5 batch without a client identity" : HeaderBlock.Check(delivery.Headers.Span);
    }

    /// <summary>
    /// Where the body of a request of its own message starts, by the rules <see cref="TryDecode"/> follows (past the
    /// message's end when it has no body or no reply address): every frame before it is read to decode the request,
    /// none from it on.
    /// </summary>
    public static int BodyStart(Transport.Internal.MessageFrames message)
    {
        var delimiter = Delimiter(message.Count, message, static (m, i) => m.Length(i));
        var header = delimiter + 1;
        if (delimiter < 0 || header >= message.Count)
        {
            return message.Count;
        }

        return Classify(message[header]) switch
        {
            HeaderKind.Courier5 or HeaderKind.Courier => header + 1,
            HeaderKind.Mdp => header + 2,
            _ => header,
        };
    }

    /// <summary>The first empty frame after the routing id, within <see cref="MaxEnvelopeFrames"/>; -1 if none.</summary>
    private static int Delimiter<T>(int count, T frames, Func<T, int, int> length)
    {
        for (var i = 1; i < count && i <= MaxEnvelopeFrames; i++)
        {
            if (length(frames, i) == 0)
            {
                return i;
            }
        }

        return -1;
    }

    private enum HeaderKind { Plain, Courier5, Courier, Mdp }

    /// <summary>What the frame after the delimiter says the request is: anything unknown is a plain (REQ) body.</summary>
    private static HeaderKind Classify(ReadOnlySpan<byte> frame)
        => CourierFrame5.Is(frame, CourierFrame5.Request) ? HeaderKind.Courier5
            : CourierFrame.Is(frame) ? HeaderKind.Courier
            : frame.SequenceEqual(Mdp.ClientHeader) ? HeaderKind.Mdp
            : HeaderKind.Plain;

    /// <summary>
    /// Decodes a request of its own message (<paramref name="frames"/>, routing id first) into <paramref name="request"/>.
    /// False, with the reason, when it has no empty delimiter and so no reply address: it can only be dropped.
    /// </summary>
    public static bool TryDecode(byte[][] frames, InboundRequest request, string defaultService, out string? dropReason)
    {
        dropReason = null;
        var delimiter = Delimiter(frames.Length, frames, static (f, i) => f[i].Length);

        if (delimiter < 0)
        {
            dropReason = "no empty delimiter frame: no reply address";
            return false;
        }

        for (var i = 1; i < delimiter; i++)
        {
            if (frames[i].Length > MaxEnvelopeFrameLength)
            {
                dropReason = $"an envelope frame of {frames[i].Length} bytes (a routing id has at most {MaxEnvelopeFrameLength})";
                return false;
            }
        }

        var header = delimiter + 1;
        if (header >= frames.Length)
        {
            // REQ sent an empty message: the default service gets no body frames.
            request.Set(frames, new ReplyRoute(frames, delimiter, ClientFraming.Plain, 0, null), defaultService, header, null);
            return true;
        }

        var headerFrame = frames[header];
        var kind = Classify(headerFrame);
        if (kind == HeaderKind.Courier5)
        {
            DecodeCourier5(frames, request, delimiter, header);
            return true;
        }

        if (kind == HeaderKind.Courier)
        {
            // One frame: header, request id, service.
            var id = headerFrame.Length >= CourierFrame.PrefixLength
                ? System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(headerFrame.AsSpan(CourierFrame.Header.Length))
                : 0;
            var name = headerFrame.Length > CourierFrame.PrefixLength ? ServiceName(headerFrame.AsSpan(CourierFrame.PrefixLength)) : null;
            request.Set(frames, new ReplyRoute(frames, delimiter, ClientFraming.Courier, id, null), name, header + 1,
                name is null ? "malformed Courier header (needs request id and a valid service name)" : null);
            return true;
        }

        if (kind == HeaderKind.Plain)
        {
            request.Set(frames, new ReplyRoute(frames, delimiter, ClientFraming.Plain, 0, null), defaultService, header, null);
            return true;
        }

        var serviceIndex = header + 1;
        if (serviceIndex >= frames.Length)
        {
            request.Set(frames, new ReplyRoute(frames, delimiter, ClientFraming.Mdp, 0, null), null, serviceIndex, "missing service frame");
            return true;
        }

        var service = ServiceName(frames[serviceIndex]);
        request.Set(frames, new ReplyRoute(frames, delimiter, ClientFraming.Mdp, 0, frames[serviceIndex]), service, serviceIndex + 1,
            service is null ? Batch.InvalidServiceName : null);
        return true;
    }
}
