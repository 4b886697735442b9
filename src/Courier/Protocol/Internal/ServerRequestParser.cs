namespace Courier.Protocol.Internal;

/// <summary>The parts of a request received on a ROUTER socket.</summary>
/// <param name="EnvelopeLength">Frames before the empty delimiter (routing id first); echoed back unchanged.</param>
/// <param name="Kind">Which client protocol the request used.</param>
/// <param name="Service">The service requested, or null when the request is malformed.</param>
/// <param name="BodyStart">Index of the first body frame.</param>
/// <param name="Error">Why the request is malformed, or null.</param>
internal readonly record struct ParsedRequest(int EnvelopeLength, RequestKind Kind, string? Service, int BodyStart, string? Error)
{
    /// <summary>A request with no delimiter has no reply address: it can only be dropped.</summary>
    public bool Unroutable => EnvelopeLength < 0;
}

/// <summary>Parses what a ROUTER socket receives from clients: REQ, 7/MDP and Courier requests.</summary>
internal static class ServerRequestParser
{
    /// <summary>Envelopes deeper than this are treated as garbage rather than routing.</summary>
    public const int MaxEnvelopeFrames = 16;

    // The last service name decoded on this thread (a loop's): most traffic asks one service, so most requests
    // are answered from here instead of validating and decoding the same bytes into a new string.
    [ThreadStatic]
    private static byte[]? t_lastServiceBytes;

    [ThreadStatic]
    private static string? t_lastService;

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

    public static ParsedRequest Parse(IReadOnlyList<byte[]> frames, string defaultService)
    {
        var delimiter = -1;
        for (var i = 1; i < frames.Count && i <= MaxEnvelopeFrames; i++)
        {
            if (frames[i].Length == 0)
            {
                delimiter = i;
                break;
            }
        }

        if (delimiter < 0)
        {
            return new ParsedRequest(-1, RequestKind.Plain, null, 0, "no empty delimiter frame: no reply address");
        }

        var headerIndex = delimiter + 1;
        if (headerIndex >= frames.Count)
        {
            // REQ sent an empty message: the default service gets no body frames.
            return new ParsedRequest(delimiter, RequestKind.Plain, defaultService, headerIndex, null);
        }

        var header = frames[headerIndex];
        RequestKind kind;
        if (Mdp.IsCourierHeader(header))
        {
            // One frame: header, request id, service.
            var name = header.Length > Mdp.CourierPrefixLength ? ServiceName(header.AsSpan(Mdp.CourierPrefixLength)) : null;
            return name is null
                ? new ParsedRequest(delimiter, RequestKind.Courier, null, headerIndex + 1, "malformed Courier header (needs request id and a valid service name)")
                : new ParsedRequest(delimiter, RequestKind.Courier, name, headerIndex + 1, null);
        }
        else if (header.AsSpan().SequenceEqual(Mdp.ClientHeader))
        {
            kind = RequestKind.Mdp;
        }
        else
        {
            return new ParsedRequest(delimiter, RequestKind.Plain, defaultService, headerIndex, null);
        }

        var serviceIndex = headerIndex + 1;
        if (serviceIndex >= frames.Count)
        {
            return new ParsedRequest(delimiter, kind, null, serviceIndex, "missing service frame");
        }

        var service = ServiceName(frames[serviceIndex]);
        return service is null
            ? new ParsedRequest(delimiter, kind, null, serviceIndex + 1, "invalid service name (1-255 bytes of printable UTF-8)")
            : new ParsedRequest(delimiter, kind, service, serviceIndex + 1, null);
    }
}
