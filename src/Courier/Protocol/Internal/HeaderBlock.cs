using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace Courier.Protocol.Internal;

/// <summary>
/// Headers on the wire (courier/5, docs/protocol.md §8): entries of <c>key length (1) ‖ key ‖ value length (2,
/// big-endian) ‖ value</c>, back to back to the end of the frame part that holds them. Keys are printable ASCII without
/// spaces, values UTF-8. The broker passes a block on as it came, after <see cref="Check"/>; only a handler's side decodes it.
/// </summary>
internal static class HeaderBlock
{
    public const int MaxCount = 64;
    public const int MaxSize = 8 * 1024;
    public const int MaxKeyLength = 255;

    /// <summary>The largest block that passes <see cref="Check"/>: entries' lengths and bytes.</summary>
    public const int MaxBlockLength = MaxSize + (MaxCount * 3);

    public static bool IsValidKey(string key)
    {
        if (key.Length is 0 or > MaxKeyLength)
        {
            return false;
        }

        foreach (var c in key)
        {
            if (c is <= ' ' or > '~')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Why a peer's block breaks the rules (answered 400), or null when it is well formed and within bounds.</summary>
    public static string? Check(ReadOnlySpan<byte> block)
    {
        if (block.IsEmpty)
        {
            return null;
        }

        if (block.Length > MaxBlockLength)
        {
            return $"headers of {block.Length} bytes exceed the limit ({MaxCount} entries, {MaxSize} bytes of keys and values)";
        }

        var count = 0;
        var size = 0;
        var reader = new Reader(block);
        while (reader.TryRead(out var key, out var value))
        {
            if (++count > MaxCount)
            {
                return $"more than {MaxCount} headers";
            }

            size += key.Length + value.Length;
            if (size > MaxSize)
            {
                return $"headers exceed {MaxSize} bytes of keys and values";
            }

            if (key.IsEmpty)
            {
                return "a header with an empty key";
            }

            foreach (var b in key)
            {
                if (b is <= (byte)' ' or > (byte)'~')
                {
                    return "a header key that is not printable ASCII without spaces";
                }
            }

            if (!Utf8.IsValid(value))
            {
                return "a header value that is not UTF-8";
            }
        }

        return reader.Malformed ? "malformed headers (an entry cut short)" : null;
    }

    /// <summary>Encodes <paramref name="entries"/> (already within bounds); empty for none.</summary>
    public static byte[] Encode(IReadOnlyList<KeyValuePair<string, string>> entries)
    {
        if (entries.Count == 0)
        {
            return [];
        }

        var length = 0;
        foreach (var (key, value) in entries)
        {
            length += 3 + key.Length + Encoding.UTF8.GetByteCount(value);
        }

        var block = new byte[length];
        var at = 0;
        foreach (var (key, value) in entries)
        {
            block[at] = (byte)key.Length;
            at += 1 + Encoding.ASCII.GetBytes(key, block.AsSpan(at + 1));
            var valueLength = Encoding.UTF8.GetBytes(value, block.AsSpan(at + 2));
            BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(at), (ushort)valueLength);
            at += 2 + valueLength;
        }

        return block;
    }

    /// <summary>Reads entries of a block; stops at the first one cut short (<see cref="Malformed"/>).</summary>
    public ref struct Reader(ReadOnlySpan<byte> block)
    {
        private readonly ReadOnlySpan<byte> _block = block;
        private int _at;

        public bool Malformed { get; private set; }

        public bool TryRead(out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
        {
            key = default;
            value = default;
            var rest = _block[_at..];
            if (rest.IsEmpty)
            {
                return false;
            }

            var keyLength = rest[0];
            if (rest.Length < 3 + keyLength)
            {
                Malformed = true;
                return false;
            }

            var valueLength = BinaryPrimitives.ReadUInt16BigEndian(rest[(1 + keyLength)..]);
            if (rest.Length < 3 + keyLength + valueLength)
            {
                Malformed = true;
                return false;
            }

            key = rest.Slice(1, keyLength);
            value = rest.Slice(3 + keyLength, valueLength);
            _at += 3 + keyLength + valueLength;
            return true;
        }
    }
}
