namespace Courier.Security.Internal;

/// <summary>
/// Z85 (ZeroMQ RFC 32): 4 bytes as 5 printable characters, how CURVE keys travel in text (40 characters for a 32-byte
/// key). Only whole groups: an encoded length is a multiple of 5, a decoded one of 4.
/// </summary>
internal static class Z85
{
    private const string Alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    private static readonly sbyte[] Values = BuildValues();

    public static string Encode(ReadOnlySpan<byte> data)
    {
        if (data.Length % 4 != 0)
        {
            throw new ArgumentException($"Z85 encodes whole groups of 4 bytes; got {data.Length} bytes.", nameof(data));
        }

        var text = new char[data.Length / 4 * 5];
        for (int i = 0, o = 0; i < data.Length; i += 4, o += 5)
        {
            uint value = (uint)(data[i] << 24 | data[i + 1] << 16 | data[i + 2] << 8 | data[i + 3]);
            for (var k = 4; k >= 0; k--)
            {
                text[o + k] = Alphabet[(int)(value % 85)];
                value /= 85;
            }
        }

        return new string(text);
    }

    /// <summary>The bytes of <paramref name="text"/>, or null with the reason when it is not Z85.</summary>
    public static byte[]? TryDecode(ReadOnlySpan<char> text, out string? problem)
    {
        if (text.Length % 5 != 0)
        {
            problem = $"a Z85 text is a multiple of 5 characters long; this one has {text.Length}";
            return null;
        }

        var data = new byte[text.Length / 5 * 4];
        for (int i = 0, o = 0; i < text.Length; i += 5, o += 4)
        {
            ulong value = 0;
            for (var k = 0; k < 5; k++)
            {
                var c = text[i + k];
                var digit = c < 128 ? Values[c] : -1;
                if (digit < 0)
                {
                    problem = $"'{c}' at position {i + k + 1} is not a Z85 character";
                    return null;
                }

                value = value * 85 + (ulong)digit;
            }

            if (value > uint.MaxValue)
            {
                problem = $"the group at position {i + 1} is out of range";
                return null;
            }

            data[o] = (byte)(value >> 24);
            data[o + 1] = (byte)(value >> 16);
            data[o + 2] = (byte)(value >> 8);
            data[o + 3] = (byte)value;
        }

        problem = null;
        return data;
    }

    private static sbyte[] BuildValues()
    {
        var values = new sbyte[128];
        Array.Fill(values, (sbyte)-1);
        for (var i = 0; i < Alphabet.Length; i++)
        {
            values[Alphabet[i]] = (sbyte)i;
        }

        return values;
    }
}
