using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Courier.Json;
using Courier.Json.Internal;

namespace Courier.Client;

/// <summary>
/// Typed requests on any <see cref="ICourierClient"/>: the request goes as one UTF-8 JSON frame, with the header
/// <c>content-type: application/json</c>, and the reply is read back as <c>TReply</c> (see <see cref="CourierJson"/>).
/// Every failure of an untyped request applies, and a reply that is not valid JSON for <c>TReply</c> throws <see cref="CourierSerializationException"/>.
/// </summary>
public static class CourierClientJsonExtensions
{
    // RS0026/RS0027 guard shipped overloads against a new optional parameter changing what a call means. These overloads
    // are new together, differ in a required parameter's type, and keep the optional ones last.
#pragma warning disable RS0026, RS0027
    /// <summary>Sends <paramref name="request"/> as JSON to <paramref name="service"/> and reads the reply, with source-generated metadata.</summary>
    /// <exception cref="CourierSerializationException">The reply is not valid JSON for <typeparamref name="TReply"/>.</exception>
    public static async Task<TReply> RequestAsync<TRequest, TReply>(this ICourierClient client, string service, TRequest request,
        JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TReply> replyType, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(requestType);
        ArgumentNullException.ThrowIfNull(replyType);
        // Decoding copies what it keeps: the reply (maybe lent, CourierClientOptions.LendLargeReplies) goes back at once.
        using var reply = await client.RequestAsync(service, JsonBody.Encode(request, requestType), JsonBody.RequestOptions, cancellationToken).ConfigureAwait(false);
        return JsonBody.DecodeReply(reply, replyType);
    }

    /// <summary>
    /// Sends <paramref name="request"/> as JSON to <paramref name="service"/> and reads the reply, with the metadata
    /// <paramref name="context"/> generated for both types (<c>[JsonSerializable(typeof(…))]</c>).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="context"/> has no metadata for one of the types.</exception>
    /// <exception cref="CourierSerializationException">The reply is not valid JSON for <typeparamref name="TReply"/>.</exception>
    public static Task<TReply> RequestAsync<TRequest, TReply>(this ICourierClient client, string service, TRequest request,
        JsonSerializerContext context, CancellationToken cancellationToken = default)
        => client.RequestAsync(service, request, JsonBody.TypeInfo<TRequest>(context, nameof(context)), JsonBody.TypeInfo<TReply>(context, nameof(context)), cancellationToken);

    /// <summary>
    /// Sends <paramref name="request"/> as JSON to <paramref name="service"/> and reads the reply through reflection, with
    /// <paramref name="options"/> (default <see cref="JsonSerializerOptions.Web"/>). Prefer the
    /// <see cref="JsonSerializerContext"/> overload in trimmed or native AOT applications.
    /// </summary>
    /// <exception cref="CourierSerializationException">The reply is not valid JSON for <typeparamref name="TReply"/>.</exception>
    [RequiresUnreferencedCode("JSON serialization through reflection may need types that trimming removes; use a JsonSerializerContext overload.")]
    [RequiresDynamicCode("JSON serialization through reflection may need runtime code generation; use a JsonSerializerContext overload.")]
    public static Task<TReply> RequestAsync<TRequest, TReply>(this ICourierClient client, string service, TRequest request,
        JsonSerializerOptions? options = null, CancellationToken cancellationToken = default)
        => client.RequestAsync(service, request, CourierJson.Reflected<TRequest>(options), CourierJson.Reflected<TReply>(options), cancellationToken);
#pragma warning restore RS0026, RS0027
}
