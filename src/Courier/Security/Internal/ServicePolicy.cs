using System.Text.Json;
using Courier.Protocol.Internal;

namespace Courier.Security.Internal;

/// <summary>
/// Per-service rights, from a JSON file (docs/security.md):
/// <code>
/// { "clients": { "alice": ["orders.*", "mmi.*"], "*": ["echo"] },
///   "workers": { "orders-worker": ["orders.*"] } }
/// </code>
/// Each key of <c>clients</c> and <c>workers</c> names peers: a certificate's name in the allow-list directory, a
/// 40-character Z85 public key, or <c>*</c> (any admitted peer); each value lists service patterns: a name, a prefix
/// ending in <c>.*</c>, or <c>*</c>. What no entry grants is denied. Immutable.
/// </summary>
internal sealed class ServicePolicy
{
    private readonly Dictionary<string, string[]> _clients;
    private readonly Dictionary<string, string[]> _workers;

    private ServicePolicy(Dictionary<string, string[]> clients, Dictionary<string, string[]> workers)
    {
        _clients = clients;
        _workers = workers;
    }

    /// <summary>Whether the peer with Z85 key <paramref name="key"/> (certificate name <paramref name="name"/>, if any) may call <paramref name="service"/>.</summary>
    public bool MayCall(string key, string? name, string service) => Grants(_clients, key, name, service);

    /// <summary>Whether the peer may register as a worker for <paramref name="service"/>.</summary>
    public bool MayServe(string key, string? name, string service) => Grants(_workers, key, name, service);

    /// <summary>Parses a policy; a problem throws <see cref="InvalidDataException"/> naming <paramref name="path"/> and the line or field.</summary>
    public static ServicePolicy Parse(string json, string path)
    {
        try
        {
            // A name twice (a section, a peer) would silently drop the rights of all but the last: refused. Transcoded
            // here, not by JsonDocument: half a surrogate pair becomes U+FFFD (as in a file read) instead of an ArgumentException.
            using var document = JsonDocument.Parse(System.Text.Encoding.UTF8.GetBytes(json), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, AllowDuplicateProperties = false });
            return Read(document.RootElement, path);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}:{ex.LineNumber + 1}: not valid JSON: {ex.Message.Split(" LineNumber")[0]}", ex);
        }
        catch (InvalidOperationException ex)
        {
            // System.Text.Json checks escapes only when it reads a string: "\ud800" (half a surrogate pair) as a name or
            // a value throws this, from the duplicate-name check or from Read.
            throw new InvalidDataException($"{path}: not valid JSON: {ex.Message}", ex);
        }
    }

    private static ServicePolicy Read(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw Problem(path, "(root)", "must be an object with \"clients\" and \"workers\"");
        }

        Dictionary<string, string[]>? clients = null, workers = null;
        foreach (var section in root.EnumerateObject())
        {
            switch (section.Name)
            {
                case "clients":
                    clients = Rights(section.Value, path, "clients");
                    break;
                case "workers":
                    workers = Rights(section.Value, path, "workers");
                    break;
                default:
                    // A misspelt section would silently grant nothing, or be read as granting something: refuse it.
                    throw Problem(path, section.Name, "is not a section of a policy (\"clients\", \"workers\")");
            }
        }

        return new ServicePolicy(clients ?? [], workers ?? []);
    }

    private static Dictionary<string, string[]> Rights(JsonElement section, string path, string field)
    {
        if (section.ValueKind != JsonValueKind.Object)
        {
            throw Problem(path, field, "must be an object: { \"peer\": [\"service\", …] }");
        }

        var rights = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var entry in section.EnumerateObject())
        {
            var at = $"{field}.{entry.Name}";
            if (entry.Name.Length == 0 || entry.Name.Any(char.IsWhiteSpace))
            {
                throw Problem(path, at, "a peer is a certificate name, a Z85 public key or \"*\", without spaces");
            }

            // "web-*" would look like a wildcard and name only a certificate called that. ('*' is a Z85 character: a key may hold one.)
            if (entry.Name != "*" && entry.Name.Contains('*', StringComparison.Ordinal) && !(entry.Name.Length == 40 && Z85.TryDecode(entry.Name, out _) is not null))
            {
                throw Problem(path, at, "a peer is a certificate name, a Z85 public key or \"*\": '*' in a name is no wildcard");
            }

            if (entry.Value.ValueKind != JsonValueKind.Array)
            {
                throw Problem(path, at, "must be an array of service patterns");
            }

            var patterns = new List<string>();
            var index = 0;
            foreach (var item in entry.Value.EnumerateArray())
            {
                var pattern = item.ValueKind == JsonValueKind.String ? item.GetString()! : null;
                if (pattern is null || !ValidPattern(pattern))
                {
                    throw Problem(path, $"{at}[{index}]", $"'{item}' is not a service pattern: a service name, a prefix ending in \".*\", or \"*\"");
                }

                patterns.Add(pattern);
                index++;
            }

            rights[entry.Name] = [.. patterns];
        }

        return rights;
    }

    private static bool ValidPattern(string pattern)
        => pattern == "*"
        || (pattern.EndsWith(".*", StringComparison.Ordinal) && pattern.Length > 2 && IsServiceName(pattern[..^2]))
        || IsServiceName(pattern);

    // '*' only as the whole pattern or after the last dot: "ord*" would look like a wildcard and match only itself.
    private static bool IsServiceName(string name) => !name.Contains('*', StringComparison.Ordinal) && Mdp.DecodeServiceName(System.Text.Encoding.UTF8.GetBytes(name)) is not null;

    private static bool Grants(Dictionary<string, string[]> rights, string key, string? name, string service)
        => Matches(rights.GetValueOrDefault(key), service)
        || (name is not null && Matches(rights.GetValueOrDefault(name), service))
        || Matches(rights.GetValueOrDefault("*"), service);

    private static bool Matches(string[]? patterns, string service)
    {
        if (patterns is null)
        {
            return false;
        }

        foreach (var pattern in patterns)
        {
            if (pattern == "*" || pattern == service
                || (pattern.EndsWith(".*", StringComparison.Ordinal) && service.Length > pattern.Length - 1
                    && service.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.Ordinal)))
            {
                return true;
            }
        }

        return false;
    }

    private static InvalidDataException Problem(string path, string field, string what) => new($"{path}: {field} {what}");
}
