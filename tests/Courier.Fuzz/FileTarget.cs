using System.Text;

namespace Courier.Fuzz;

/// <summary>
/// A parser of a file an operator gives Courier (a certificate, a policy). Its contract, for any bytes at all: it
/// returns a value or throws <see cref="InvalidDataException"/> whose message starts with the file's path; anything
/// else escaping (an <see cref="ArgumentException"/>, an index out of range, an unwrapped JSON error, a stack
/// overflow) is a crash, and so is a value that breaks the format's own rules (<see cref="Check"/>).
/// </summary>
internal abstract class FileTarget : FuzzTarget
{
    /// <summary>The path the parser is told it reads, which its errors must name.</summary>
    public string Path => $"/etc/courier/fuzz.{Name}";

    public override void Run(ReadOnlySpan<byte> data) => Run(Read(data));

    /// <summary>Parses <paramref name="text"/> as the file's content, and checks what was parsed.</summary>
    public void Run(string text)
    {
        object parsed;
        try
        {
            parsed = Parse(text, Path);
        }
        catch (InvalidDataException ex) when (ex.Message.StartsWith(Path + ":", StringComparison.Ordinal))
        {
            return;
        }

        Check(parsed);
    }

    /// <summary>
    /// The text Courier reads from a file of these bytes: <c>File.ReadAllText</c>'s decoding (UTF-8, or what a byte
    /// order mark says; an invalid byte becomes U+FFFD).
    /// </summary>
    public static string Read(ReadOnlySpan<byte> data)
    {
        using var reader = new StreamReader(new MemoryStream(data.ToArray()), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    protected abstract object Parse(string text, string path);

    /// <summary>Throws when a parsed value breaks the format's rules.</summary>
    protected abstract void Check(object parsed);
}

/// <summary>Broke a format's rules without throwing.</summary>
internal sealed class ContractException(string message) : Exception(message);
