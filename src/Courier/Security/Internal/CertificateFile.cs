using System.Text;

namespace Courier.Security.Internal;

/// <summary>
/// czmq's certificate files (ZPL, ZeroMQ RFC 4, the subset certificates use): a <c>metadata</c> section of
/// <c>name = "value"</c> lines and a <c>curve</c> section with <c>public-key</c> (and <c>secret-key</c> in the secret
/// file), each a Z85 text; <c>#</c> starts a comment line; a property is indented under its section. What czmq and
/// pyzmq's <c>zmq.auth</c> write is read here, and what is written here they read.
/// </summary>
internal static class CertificateFile
{
    /// <summary>Parses <paramref name="text"/>; a problem throws <see cref="InvalidDataException"/> naming <paramref name="path"/> and the line.</summary>
    public static CurveCertificate Parse(string text, string path)
    {
        string? section = null;
        string? publicKey = null;
        string? secretKey = null;
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var lines = text.Split('\n');
        for (var n = 0; n < lines.Length; n++)
        {
            var line = lines[n].TrimEnd('\r');
            var content = line.Trim();
            if (content.Length == 0 || content[0] == '#')
            {
                continue;
            }

            if (line[0] is not (' ' or '\t'))
            {
                section = content;
                continue;
            }

            var equals = content.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                // The line is not quoted: in a secret file it may be most of the secret key.
                throw Problem(path, n, "expected a property, 'name = \"value\"'");
            }

            var name = content[..equals].Trim();
            var value = Unquote(content[(equals + 1)..].Trim(), path, n);
            switch (section)
            {
                case "metadata" when IsKeyName(name):
                    // Saved again as metadata, a secret key would go into the public file.
                    throw Problem(path, n, $"'{name}' is a key's name, not metadata (keys go under 'curve')");
                case "metadata":
                    metadata[name] = value;
                    break;
                case "curve" when IsKeyName(name) && (name == "public-key" ? publicKey : secretKey) is not null:
                    // czmq reads the first, a last-wins reader the last: the file would admit different keys by tool.
                    throw Problem(path, n, $"a second '{name}'");
                case "curve" when name == "public-key":
                    publicKey = Key(value, path, n, name);
                    break;
                case "curve" when name == "secret-key":
                    secretKey = Key(value, path, n, name);
                    break;
                case null:
                    // Not named either: before '=' on a garbled line may be part of a key.
                    throw Problem(path, n, "a property outside any section (put it under 'metadata' or 'curve')");
                default:
                    break; // other sections and properties are someone else's: kept out, not refused
            }
        }

        if (publicKey is null)
        {
            throw new InvalidDataException($"{path}: no 'public-key' in a 'curve' section: not a CURVE certificate");
        }

        return new CurveCertificate(publicKey, secretKey, metadata);
    }

    /// <summary>
    /// The text of a public (<paramref name="secret"/> false) or secret certificate, as czmq lays it out; it parses back
    /// to the same keys and metadata (metadata that cannot is refused, see <see cref="CheckMetadata"/>).
    /// </summary>
    public static string Format(CurveCertificate certificate, bool secret)
    {
        var text = new StringBuilder();
        text.Append("#   ****  Generated on ").Append(DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)).Append(" by Courier  ****\n");
        if (secret)
        {
            text.Append("#   ZeroMQ CURVE **Secret** Certificate\n");
            text.Append("#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n");
        }
        else
        {
            text.Append("#   ZeroMQ CURVE Public Certificate\n");
            text.Append("#   Exchange securely, or use a secure mechanism to verify the contents\n");
            text.Append("#   of this file after exchange. Store public certificates in your home\n");
            text.Append("#   directory, in the .curve subdirectory.\n\n");
        }

        text.Append("metadata\n");
        foreach (var (name, value) in certificate.Metadata)
        {
            var written = Quote(value) ?? throw new ArgumentException($"metadata '{name}': {UnwritableValue}", nameof(certificate));
            text.Append("    ").Append(name).Append(" = ").Append(written).Append('\n');
        }

        text.Append("curve\n");
        text.Append("    public-key = \"").Append(certificate.PublicKey).Append("\"\n");
        if (secret)
        {
            text.Append("    secret-key = \"").Append(certificate.SecretKey).Append("\"\n");
        }

        return text.ToString();
    }

    private const string UnwritableValue = "a value on one line, without both kinds of quote unless it has no '#' and no surrounding spaces";

    private static bool IsKeyName(string name) => name is "public-key" or "secret-key";

    /// <summary>
    /// Throws <see cref="ArgumentException"/> for metadata that a certificate file cannot hold so that it reads back
    /// as itself: a ZPL name (no '=', no whitespace, not starting with '#', not a key's) and a value <see cref="Quote"/> can write.
    /// </summary>
    public static void CheckMetadata(IReadOnlyDictionary<string, string> metadata, string paramName)
    {
        foreach (var (name, value) in metadata)
        {
            if (name.Length == 0 || name[0] == '#' || name.Contains('=', StringComparison.Ordinal) || name.Any(char.IsWhiteSpace) || IsKeyName(name))
            {
                throw new ArgumentException($"metadata name '{name}' cannot be written to a certificate: a name is not empty, has no '=' or whitespace, does not start with '#' and is not a key's ('public-key', 'secret-key')", paramName);
            }

            if (Quote(value) is null)
            {
                throw new ArgumentException($"metadata '{name}' cannot be written to a certificate: {UnwritableValue}", paramName);
            }
        }
    }

    // ZPL has no escapes: a value is quoted with the quote it does not contain, or bare (which ends at '#' and is
    // trimmed) when it holds both; null when no form reads back as the value.
    private static string? Quote(string value)
    {
        if (value.Contains('\n', StringComparison.Ordinal))
        {
            return null;
        }

        if (!value.Contains('"', StringComparison.Ordinal))
        {
            return $"\"{value}\"";
        }

        if (!value.Contains('\'', StringComparison.Ordinal))
        {
            return $"'{value}'";
        }

        return value[0] is not ('"' or '\'') && !value.Contains('#', StringComparison.Ordinal) && value.Trim() == value ? value : null;
    }

    private static string Key(string value, string path, int line, string name)
    {
        var bytes = Z85.TryDecode(value, out var problem);
        if (bytes is null || bytes.Length != 32)
        {
            // What is wrong with a secret key is not said: Z85's complaint quotes the character it stopped at.
            var why = name == "secret-key" ? $"{value.Length} characters" : problem ?? $"{bytes!.Length} bytes, not 32";
            throw Problem(path, line, $"'{name}' is not a 40-character Z85 CURVE key ({why})");
        }

        return value;
    }

    private static string Unquote(string value, string path, int line)
    {
        if (value.Length > 0 && value[0] is '"' or '\'')
        {
            var end = value.IndexOf(value[0], 1);
            if (end < 0)
            {
                throw Problem(path, line, "a quoted value has no closing quote");
            }

            return value[1..end];
        }

        // Unquoted: up to a trailing comment.
        var hash = value.IndexOf('#', StringComparison.Ordinal);
        return (hash >= 0 ? value[..hash] : value).Trim();
    }

    private static InvalidDataException Problem(string path, int line, string what) => new($"{path}:{line + 1}: {what}");
}
