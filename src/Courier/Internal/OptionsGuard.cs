using Courier.Transport.Internal;

namespace Courier.Internal;

/// <summary>The one way options records report an invalid setting: naming the record, the setting and the rule.</summary>
internal static class OptionsGuard
{
    public static void Require(bool ok, string record, string setting, string rule)
    {
        if (!ok)
        {
            throw new ArgumentException($"{record}.{setting} {rule}.", setting);
        }
    }

    /// <summary>
    /// Throws when <paramref name="endpoint"/> is not one a socket can <paramref name="use"/>, naming the setting (and
    /// the list's index, when it is one of many): <c>CourierClientOptions.Endpoints[0]: 'localhost:5700' has no scheme;
    /// write tcp://localhost:5700</c>. No period at the end: the message often ends with an endpoint to copy.
    /// </summary>
    public static void RequireEndpoint(string? endpoint, EndpointUse use, string record, string setting, int? index = null)
    {
        if (EndpointAddress.Problem(endpoint, use) is { } problem)
        {
            var name = index is { } i ? $"{setting}[{i}]" : setting;
            throw new ArgumentException($"{record}.{name}: {problem}", setting);
        }
    }
}
