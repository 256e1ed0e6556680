namespace Viper.Studio.Api;

/// <summary>A request the studio refuses: sent to the client as {"error": message} with <paramref name="status"/>.</summary>
public sealed class ApiException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;

    public static ApiException BadRequest(string message) => new(StatusCodes.Status400BadRequest, message);

    public static ApiException NotFound(string message) => new(StatusCodes.Status404NotFound, message);
}
