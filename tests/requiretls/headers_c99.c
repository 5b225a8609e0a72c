/* The public headers compile on their own with -std=c99 -pedantic -Werror. */
#include <mailsec/requiretls.h>
#include <mailsec/requiretls.h> /* include guard */

int main(void)
{
	return ms_rtls_server_advertise(1, 1) ? 0 : 1;
}
