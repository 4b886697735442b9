using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Courier.Json;

namespace Courier.Server;

/// <summary>Typed handlers on a <see cref="CourierServer"/> (see <see cref="CourierJson"/>).</summary>
public static class CourierServerJsonExtensions
{
    // RS0026/RS0027 guard shipped overloads against a new optional parameter changing what a call means. These overloads
    // are new together, differ in a required parameter's type, and keep the optional one last.
#pragma warning disable RS0026, RS0027
    /// <summary>
    /// Hosts a typed <paramref name="handler"/> as <paramref name="service"/>, with source-generated metadata; declared
    /// <paramref name="idempotent"/> or not, as <see cref="CourierServer.Map(string, CourierHandler, bool)"/>.
    /// </summary>
    public static CourierServer Map<TRequest, TReply>(this CourierServer server, string service, CourierHandler<TRequest, TReply> handler,
        JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TReply> replyType, bool idempotent = false)
    {
        ArgumentNullException.ThrowIfNull(server);
        return server.Map(service, CourierJson.Handler(handler, requestType, replyType), idempotent);
    }

    /// <summary>
    /// Hosts a typed <paramref name="handler"/> as <paramref name="service"/>, with the metadata <paramref name="context"/>
    /// generated for both types; declared <paramref name="idempotent"/> or not, as <see cref="CourierServer.Map(string, CourierHandler, bool)"/>.
    /// </summary>
    public static CourierServer Map<TRequest, TReply>(this CourierServer server, string service, CourierHandler<TRequest, TReply> handler,
        JsonSerializerContext context, bool idempotent = false)
    {
        ArgumentNullException.ThrowIfNull(server);
        return server.Map(service, CourierJson.Handler(handler, context), idempotent);
    }
#pragma warning restore RS0026, RS0027
}
