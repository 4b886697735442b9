using System.Buffers.Binary;
using System.Globalization;

namespace Courier.Protocol.Internal;

/// <summary>
/// <c>courier-attempt</c> (docs/protocol.md §8, reserved names): on a <c>503</c> to a courier/5 request whose client
/// asks (<see cref="DeliveryFlags.RefusalNamesAttempt"/>), the attempt it refuses, in decimal. A client that sent the request again on the same connection before the refusal came can then
/// tell the first copy's refusal, while the later copy may still run there, from the later copy's own.
/// </summary>
internal static class AttemptHeader
{
    public const string Key = "courier-attempt";

    /// <summary>A header block of this one entry, naming <paramref name="attempt"/> (not zero).</summary>
    public static byte[] Of(byte attempt)
    {
        Span<byte> digits = stackalloc byte[3];
        attempt.TryFormat(digits, out var written, default, CultureInfo.InvariantCulture);
        var block = new byte[3 + Key.Length + written];
        block[0] = (byte)Key.Length;
        System.Text.Encoding.ASCII.GetBytes(Key, block.AsSpan(1));
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(1 + Key.Length), (ushort)written);
        digits[..written].CopyTo(block.AsSpan(3 + Key.Length));
        return block;
    }

    /// <summary>The attempt a refusal's (already checked) headers name; 0 when they name none, or one that does not parse.</summary>
    public static byte Read(ReadOnlySpan<byte> block)
    {
        var reader = new HeaderBlock.Reader(block);
        while (reader.TryRead(out var key, out var value))
        {
            if (key.SequenceEqual("courier-attempt"u8))
            {
                return value.Length is > 0 and <= 3 && byte.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var attempt) ? attempt : (byte)0;
            }
        }

        return 0;
    }
}
