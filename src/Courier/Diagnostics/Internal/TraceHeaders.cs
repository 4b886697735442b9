using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Courier.Protocol;
using Courier.Protocol.Internal;

namespace Courier.Diagnostics.Internal;

/// <summary>
/// W3C trace context in courier/5 request headers (<c>traceparent</c>, <c>tracestate</c>; docs/observability.md): written
/// by a client whose span exists, read by a server, a worker and a broker, rewritten by a broker so that a worker's span
/// is the child of the broker's. Only ever called when a span exists or a listener is attached: without one, requests
/// carry exactly the headers their caller set.
/// </summary>
internal static class TraceHeaders
{
    public const string TraceParent = "traceparent";
    public const string TraceState = "tracestate";

    /// <summary>
    /// Longest <c>traceparent</c> value read (version 00 has 55 characters; a later version may add fields). A longer one
    /// is ignored unparsed, so a hostile peer cannot make the parser work through kilobytes.
    /// </summary>
    private const int MaxTraceParentLength = 128;

    /// <summary>Longest <c>tracestate</c> value kept: 512 characters, the size W3C asks every vendor to pass on whole.</summary>
    private const int MaxTraceStateLength = 512;

    /// <summary>
    /// The block a client sends: the caller's <paramref name="headers"/>, then <c>traceparent</c> (and <c>tracestate</c>)
    /// of <paramref name="activity"/>. A <c>traceparent</c> the caller set wins and nothing is added; nor is anything
    /// added when it would pass the bounds less the room of <c>courier-incarnation</c>, which an at-most-once resend
    /// needs (the request goes untraced rather than failing, then or at its resend).
    /// </summary>
    public static byte[] ForRequest(CourierHeaders? headers, Activity activity)
    {
        var own = headers is { Count: > 0 } ? headers : null;
        if (activity.IdFormat != ActivityIdFormat.W3C || activity.Id is not { } id || (own is not null && own.TryGetValue(TraceParent, out _)))
        {
            return own?.Encode() ?? [];
        }

        var state = activity.TraceStateString is { Length: > 0 and <= MaxTraceStateLength } s && (own is null || !own.TryGetValue(TraceState, out _)) ? s : null;
        var count = (own?.Count ?? 0) + (state is null ? 1 : 2);
        var size = (own?.Size ?? 0) + TraceParent.Length + id.Length + (state is null ? 0 : TraceState.Length + Encoding.UTF8.GetByteCount(state));
        if (count + 1 > HeaderBlock.MaxCount || size + IncarnationHeader.Size > HeaderBlock.MaxSize)
        {
            return own?.Encode() ?? [];
        }

        var entries = new List<KeyValuePair<string, string>>(count);
        if (own is not null)
        {
            entries.AddRange(own);
        }

        entries.Add(new KeyValuePair<string, string>(TraceParent, id));
        if (state is not null)
        {
            entries.Add(new KeyValuePair<string, string>(TraceState, state));
        }

        return HeaderBlock.Encode(entries);
    }

    /// <summary>
    /// The trace context a request's (already checked) header <paramref name="block"/> carries, marked remote; default
    /// when no listener is attached, or when it has none or one that does not parse (a peer's garbage is ignored, quietly).
    /// </summary>
    public static ActivityContext Parent(ReadOnlySpan<byte> block)
    {
        if (block.IsEmpty || !CourierTracing.Source.HasListeners())
        {
            return default;
        }

        ReadOnlySpan<byte> parent = default;
        ReadOnlySpan<byte> state = default;
        bool hasParent = false, hasState = false;
        var reader = new HeaderBlock.Reader(block);
        while (reader.TryRead(out var key, out var value))
        {
            if (!hasParent && key.SequenceEqual("traceparent"u8))
            {
                parent = value;
                hasParent = true;
            }
            else if (!hasState && key.SequenceEqual("tracestate"u8))
            {
                state = value;
                hasState = true;
            }
        }

        if (!hasParent || parent.Length > MaxTraceParentLength)
        {
            return default;
        }

        var stateText = hasState && state.Length <= MaxTraceStateLength ? Encoding.UTF8.GetString(state) : null;
        return ActivityContext.TryParse(Encoding.UTF8.GetString(parent), stateText, isRemote: true, out var context) ? context : default;
    }

    /// <summary>
    /// The block a broker forwards to a worker: <paramref name="block"/> with its first <c>traceparent</c> naming
    /// <paramref name="activity"/> (the broker's span) instead, or one added at the end; every other entry as it came.
    /// Null (forward the block unchanged) when the result would pass the bounds.
    /// </summary>
    public static byte[]? Forward(ReadOnlySpan<byte> block, Activity activity)
    {
        if (activity.IdFormat != ActivityIdFormat.W3C || activity.Id is not { } id)
        {
            return null;
        }

        var count = 0;
        var size = 0;
        var replaced = -1;
        var reader = new HeaderBlock.Reader(block);
        while (reader.TryRead(out var key, out var value))
        {
            if (replaced < 0 && key.SequenceEqual("traceparent"u8))
            {
                replaced = value.Length;
            }

            count++;
            size += key.Length + value.Length;
        }

        var valueLength = Encoding.ASCII.GetByteCount(id);
        size += replaced < 0 ? TraceParent.Length + valueLength : valueLength - replaced;
        count += replaced < 0 ? 1 : 0;
        if (count > HeaderBlock.MaxCount || size > HeaderBlock.MaxSize)
        {
            return null;
        }

        var forwarded = new byte[block.Length + (replaced < 0 ? 3 + TraceParent.Length + valueLength : valueLength - replaced)];
        var at = 0;
        var done = false;
        reader = new HeaderBlock.Reader(block);
        while (reader.TryRead(out var key, out var value))
        {
            if (!done && key.SequenceEqual("traceparent"u8))
            {
                at = Write(forwarded, at, key, id);
                done = true;
            }
            else
            {
                forwarded[at] = (byte)key.Length;
                key.CopyTo(forwarded.AsSpan(at + 1));
                BinaryPrimitives.WriteUInt16BigEndian(forwarded.AsSpan(at + 1 + key.Length), (ushort)value.Length);
                value.CopyTo(forwarded.AsSpan(at + 3 + key.Length));
                at += 3 + key.Length + value.Length;
            }
        }

        if (!done)
        {
            at = Write(forwarded, at, "traceparent"u8, id);
        }

        Debug.Assert(at == forwarded.Length, "the forwarded block is filled exactly");
        return forwarded;
    }

    private static int Write(byte[] block, int at, ReadOnlySpan<byte> key, string value)
    {
        block[at] = (byte)key.Length;
        key.CopyTo(block.AsSpan(at + 1));
        var written = Encoding.ASCII.GetBytes(value, block.AsSpan(at + 3 + key.Length));
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(at + 1 + key.Length), (ushort)written);
        return at + 3 + key.Length + written;
    }
}
