/* The public headers compile on their own with -std=c99 -pedantic -Werror. */
#include <mailsec/requiretls.h>
#include <mailsec/requiretls.h> /* include guard */
#include <mailsec/requiretls_decide.h>
#include <mailsec/requiretls_server.h>
#include <mailsec/requiretls_store.h>
#include <mailsec/requiretls_replan.h>

int main(void)
{
	return ms_rtls_server_advertise(1, 1) ? 0 : 1;
}
