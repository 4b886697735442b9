using System.Buffers.Binary;
using System.Globalization;

namespace Courier.Protocol.Internal;

/// <summary>
/// <c>courier-incarnation</c> (docs/protocol.md §2, Incarnation): the peer incarnation an at-most-once resend expects, as
/// 16 hex digits. A client sends it with a resend that waited for a liveness probe's answer; a server or broker of
/// another incarnation that has no memory of the request answers <c>520</c> and never runs it, which closes the round trip
/// between that answer and the resend in which a redial could reach a peer that never saw the request.
/// </summary>
internal static class IncarnationHeader
{
    public const string Key = "courier-incarnation";
    private const int ValueLength = 16;

    /// <summary>
    /// <paramref name="block"/> (which holds no such entry: the client drops a caller's, <see cref="Without"/>) with the
    /// entry added at its end; null when that would pass the bounds.
    /// </summary>
    public static byte[]? Append(byte[] block, ulong incarnation)
    {
        if (!Fits(block))
        {
            return null;
        }

        var entry = 3 + Key.Length + ValueLength;
        var appended = new byte[block.Length + entry];
        block.CopyTo(appended, 0);
        var at = block.Length;
        appended[at] = (byte)Key.Length;
        System.Text.Encoding.ASCII.GetBytes(Key, appended.AsSpan(at + 1));
        BinaryPrimitives.WriteUInt16BigEndian(appended.AsSpan(at + 1 + Key.Length), ValueLength);
        incarnation.TryFormat(appended.AsSpan(at + 3 + Key.Length), out _, "x16", CultureInfo.InvariantCulture);
        return appended;
    }

    /// <summary>What the entry counts against <see cref="HeaderBlock.MaxSize"/>: its key and value.</summary>
    public static int Size => Key.Length + ValueLength;

    /// <summary>Whether the entry fits beside <paramref name="block"/> within the bounds (<see cref="HeaderBlock.MaxCount"/>, <see cref="HeaderBlock.MaxSize"/>).</summary>
    public static bool Fits(byte[] block)
    {
        int count = 0, size = 0;
        var reader = new HeaderBlock.Reader(block);
        while (reader.TryRead(out var key, out var value))
        {
            count++;
            size += key.Length + value.Length;
        }

        return count < HeaderBlock.MaxCount && size + Size <= HeaderBlock.MaxSize;
    }

    /// <summary>A caller's headers without <c>courier-incarnation</c>, which only the client itself sets; the same object when it has none.</summary>
    public static CourierHeaders? Without(CourierHeaders? headers)
    {
        if (headers is not { Count: > 0 } || !headers.TryGetValue(Key, out _))
        {
            return headers;
        }

        var kept = new CourierHeaders();
        foreach (var (key, value) in headers)
        {
            if (key != Key)
            {
                kept.Add(key, value);
            }
        }

        return kept;
    }

    /// <summary>The incarnation a request's (already checked) header block expects; null when it names none or one that does not parse.</summary>
    public static ulong? Read(ReadOnlySpan<byte> block)
    {
        var reader = new HeaderBlock.Reader(block);
        while (reader.TryRead(out var key, out var value))
        {
            if (key.SequenceEqual("courier-incarnation"u8))
            {
                return value.Length == ValueLength && ulong.TryParse(value, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var incarnation)
                    ? incarnation
                    : null;
            }
        }

        return null;
    }

}
